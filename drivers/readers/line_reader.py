"""Serial NFC readers that print one line per card: the UID in hex, then CRLF.

This is our protocol for the common "UART output" 13.56 MHz checkpoint readers (the kind sold as
USB/TTL card readers with a configurable output format), set to hex-UID-per-line mode:

    reader → host   <UID as 8, 14 or 20 hex digits><CR><LF>    (a 4, 7 or 10 byte ISO 14443A UID)
    host → reader   "OK" CR LF   green LED + short beep (the tap counted)
                    "ER" CR LF   red LED + long beep (wrong checkpoint, unknown card, …)

Lower-case hex is accepted and upper-cased; a bare LF is accepted as a line end. A line that is
not hex, has the wrong number of digits, or runs past `max_line` bytes without a line end is a
`FrameError`. A line protocol cannot resynchronise inside a line, so noise without a line end
spoils the line it lands in; the next line is read normally.
"""

from __future__ import annotations

from drivers.readers.frames import CardRead, FrameError, LineSplitter

FORMAT = "nfc-uid"
FEEDBACK_OK = b"OK\r\n"
FEEDBACK_WRONG = b"ER\r\n"

# Hex digits per UID → UID bytes: ISO 14443A single, double and triple size UIDs.
UID_DIGITS = {8: 4, 14: 7, 20: 10}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def encode_line(uid: bytes) -> bytes:
    """The line such a reader sends for `uid`."""
    if len(uid) not in UID_DIGITS.values():
        raise ValueError(f"a UID has 4, 7 or 10 bytes, not {len(uid)}")
    return uid.hex().upper().encode() + b"\r\n"


class LineDecoder:
    """Streaming decoder: bytes in, card reads and frame errors out, in order."""

    format = FORMAT

    def __init__(self, max_line: int = 64) -> None:
        self._lines = LineSplitter("line reader", max_line)

    def feed(self, data: bytes) -> list[CardRead | FrameError]:
        return [
            item if isinstance(item, FrameError) else decode_line(item)
            for item in self._lines.feed(data)
        ]

    def feedback(self, ok: bool) -> bytes:
        """The command that makes the reader show `ok` (green, short beep) or wrong (red, long)."""
        return FEEDBACK_OK if ok else FEEDBACK_WRONG


def decode_line(line: bytes) -> CardRead | FrameError:
    """One line without its line end."""
    if not set(line) <= _HEX:
        return FrameError("line reader: non-hex character in line", line)
    if len(line) not in UID_DIGITS:
        return FrameError(
            f"line reader: {len(line)} hex digits, expected 8, 14 or 20 (a 4, 7 or 10 byte UID)",
            line,
        )
    return CardRead(uid=line.decode("ascii").upper(), format=FORMAT, raw=line)
