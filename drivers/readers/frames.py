"""What every card-reader decoder hands back: a card read, or a frame error saying why bytes were dropped.

Also the bounded line splitter that the line-oriented families (plain NFC line readers, Wiegand
converters) share.
"""

from __future__ import annotations

from dataclasses import dataclass


class FrameError(Exception):
    """Bytes from a reader that were dropped; `reason` says why, in words fit for a log line.

    Decoders return these as items rather than raising them, so one corrupt frame never stops
    the stream. `raw` holds the offending bytes where there are any (never part of `reason`, which
    must stay printable and short enough to count by).
    """

    def __init__(self, reason: str, raw: bytes = b"") -> None:
        self.reason = reason
        self.raw = raw
        super().__init__(reason)


@dataclass(frozen=True)
class CardRead:
    """One card presented to a reader.

    `uid`: upper-case hex for NFC and EM4100 cards; for Wiegand the decimal id, e.g. "W26:123:45678".
    `format`: which family and card type produced it (see the FORMAT constant of each module).
    `raw`: the bytes the reader sent for this read, for logs and dead letters.
    `number`: the decimal card number where the family has one people read off the card
    (EM4100: the last 4 bytes; Wiegand: the card number field), else None.
    """

    uid: str
    format: str
    raw: bytes
    number: int | None = None


class LineSplitter:
    """Split a byte stream into lines at LF, dropping a CR before it, with a bounded buffer.

    A reader that babbles without ever sending a line end must not grow our memory: once an
    unfinished line exceeds `max_line` bytes it is reported once and discarded up to the next LF
    (its tail would otherwise come out as a second, misleading error). Blank lines are skipped;
    some readers send a bare CRLF as a keep-alive.
    """

    def __init__(self, name: str, max_line: int = 64) -> None:
        self.name = name
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        out: list[bytes | FrameError] = []
        self._buf.extend(data)
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > self.max_line:
                    if not self._skipping:
                        out.append(self._too_long(bytes(self._buf[: self.max_line])))
                    self._skipping = True
                    self._buf.clear()
                return out
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            if len(line) > self.max_line:
                out.append(self._too_long(line[: self.max_line]))
                continue
            line = line.rstrip(b"\r")
            if line:
                out.append(line)

    def _too_long(self, head: bytes) -> FrameError:
        return FrameError(f"{self.name}: line longer than {self.max_line} bytes, discarded", head)
