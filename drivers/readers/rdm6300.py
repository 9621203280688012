"""125 kHz EM4100 serial readers (RDM6300 and clones): STX, 10 hex data, 2 hex checksum, ETX.

    0x02 | D0..D9 (ASCII hex of 5 bytes) | C0 C1 (ASCII hex of the XOR of the 5 bytes) | 0x03

The first byte is the EM4100 version/customer byte; the other four are the number most cards
have printed on them, as 10 decimal digits ("0012345678") or as "ddd,ddddd" (third byte, then
the last two as a 16-bit number). The reader repeats the frame while a card stays in the field,
which is why the serial reader debounces. These readers have no host → reader channel, so there
is no feedback.
"""

from __future__ import annotations

from drivers.readers.frames import CardRead, FrameError

FORMAT = "em4100"
STX = 0x02
ETX = 0x03
FRAME_LEN = 14
_HEX = frozenset(b"0123456789abcdefABCDEF")


def checksum(data: bytes) -> int:
    result = 0
    for byte in data:
        result ^= byte
    return result


def encode_frame(card: bytes) -> bytes:
    """The frame an RDM6300 sends for the 5-byte EM4100 id `card`."""
    if len(card) != 5:
        raise ValueError(f"an EM4100 id has 5 bytes, not {len(card)}")
    return bytes([STX]) + (card.hex() + f"{checksum(card):02x}").upper().encode() + bytes([ETX])


def decimal_10(number: int) -> str:
    """The 10-digit form printed on cards: the last 4 bytes as one decimal number."""
    return f"{number:010d}"


def decimal_8(number: int) -> str:
    """The "ddd,ddddd" form printed on cards: third byte, comma, last two bytes."""
    return f"{(number >> 16) & 0xFF:03d},{number & 0xFFFF:05d}"


def decode_frame(frame: bytes) -> CardRead | FrameError:
    """One complete 14-byte frame starting with STX."""
    if frame[-1] != ETX:
        return FrameError("rdm6300: no ETX where the frame should end", frame)
    body = frame[1:-1]
    if not set(body) <= _HEX:
        return FrameError("rdm6300: non-hex character in frame", frame)
    card = bytes.fromhex(body[:10].decode("ascii"))
    sent = int(body[10:], 16)
    computed = checksum(card)
    if sent != computed:
        return FrameError(
            f"rdm6300: checksum mismatch (frame says {sent:02X}, data gives {computed:02X})", frame
        )
    return CardRead(
        uid=card.hex().upper(), format=FORMAT, raw=frame, number=int.from_bytes(card[1:], "big")
    )


class Rdm6300Decoder:
    """Streaming decoder that resynchronises on the next STX after any bad frame or noise."""

    format = FORMAT

    def __init__(self) -> None:
        self._buf = bytearray()
        # True from an error until the next good frame: noise that follows a reported error is
        # the rest of the same damage and is not reported again.
        self._in_error = False

    def feed(self, data: bytes) -> list[CardRead | FrameError]:
        out: list[CardRead | FrameError] = []
        self._buf.extend(data)
        while True:
            start = self._buf.find(STX)
            self._skip(len(self._buf) if start < 0 else start, out)
            if start < 0 or len(self._buf) < FRAME_LEN:
                return out
            result = decode_frame(bytes(self._buf[:FRAME_LEN]))
            out.append(result)
            if isinstance(result, FrameError):
                # That STX may itself have been noise; look for the next one inside these bytes.
                del self._buf[:1]
                self._in_error = True
            else:
                del self._buf[:FRAME_LEN]
                self._in_error = False

    def feedback(self, ok: bool) -> None:
        """No host → reader channel on these readers."""
        return None

    def _skip(self, count: int, out: list[CardRead | FrameError]) -> None:
        if count == 0:
            return
        if not self._in_error:
            out.append(
                FrameError(
                    f"rdm6300: {count} byte(s) of noise outside a frame", self._skipped(count)
                )
            )
            self._in_error = True
        del self._buf[:count]

    def _skipped(self, count: int) -> bytes:
        return bytes(self._buf[: min(count, 32)])
