"""Wiegand 26/34 card readers behind a Wiegand-to-serial converter that prints each read's bits.

Our protocol for such converters (set to "raw bits" output): one line per read, the bits in the
order they came off D0/D1 as ASCII '0'/'1', then CRLF — 26 or 34 characters.

    W26: P | 8-bit facility | 16-bit card number | P
    W34: P | 32-bit card number | P

The leading P is even parity over the first half of the data bits, the trailing P odd parity over
the second half (W26: bit 0 over bits 1-12, bit 25 over bits 13-24; W34: bit 0 over bits 1-16,
bit 33 over bits 17-32). Ids: "W26:<facility>:<number>" and "W34:<number>", in decimal. There is
no host → reader channel, so no feedback.
"""

from __future__ import annotations

from drivers.readers.frames import CardRead, FrameError, LineSplitter

FORMAT_26 = "wiegand-26"
FORMAT_34 = "wiegand-34"


def _ones(bits: str) -> int:
    return bits.count("1")


def _with_parity(data: str) -> str:
    half = len(data) // 2
    even = "1" if _ones(data[:half]) % 2 else "0"
    odd = "0" if _ones(data[half:]) % 2 else "1"
    return even + data + odd


def encode_w26(facility: int, number: int) -> str:
    if not (0 <= facility <= 0xFF and 0 <= number <= 0xFFFF):
        raise ValueError("W26 carries an 8-bit facility code and a 16-bit card number")
    return _with_parity(f"{facility:08b}{number:016b}")


def encode_w34(number: int) -> str:
    if not 0 <= number <= 0xFFFF_FFFF:
        raise ValueError("W34 carries a 32-bit card number")
    return _with_parity(f"{number:032b}")


def decode_bits(bits: str) -> CardRead | FrameError:
    """One read as its bit string (no line end)."""
    raw = bits.encode("latin-1", "replace")
    if not set(bits) <= {"0", "1"}:
        return FrameError("wiegand: character other than '0'/'1' in line", raw)
    if len(bits) not in (26, 34):
        return FrameError(f"wiegand: {len(bits)} bits, expected 26 or 34", raw)
    name = f"wiegand-{len(bits)}"
    data = bits[1:-1]
    half = len(data) // 2
    even_ok = (_ones(bits[0]) + _ones(data[:half])) % 2 == 0
    odd_ok = (_ones(data[half:]) + _ones(bits[-1])) % 2 == 1
    if not (even_ok and odd_ok):
        which = "even and odd" if not (even_ok or odd_ok) else "even" if not even_ok else "odd"
        return FrameError(f"{name} parity error ({which})", raw)
    if len(bits) == 26:
        facility, number = int(data[:8], 2), int(data[8:], 2)
        return CardRead(f"W26:{facility}:{number}", FORMAT_26, raw, number=number)
    number = int(data, 2)
    return CardRead(f"W34:{number}", FORMAT_34, raw, number=number)


class WiegandDecoder:
    """Streaming decoder for the converter's bit lines."""

    format = "wiegand"

    def __init__(self, max_line: int = 64) -> None:
        self._lines = LineSplitter("wiegand", max_line)

    def feed(self, data: bytes) -> list[CardRead | FrameError]:
        out: list[CardRead | FrameError] = []
        for line in self._lines.feed(data):
            # latin-1 maps every byte to one character, so raw round-trips and nothing can raise.
            out.append(
                line if isinstance(line, FrameError) else decode_bits(line.decode("latin-1"))
            )
        return out

    def feedback(self, ok: bool) -> None:
        """No host → reader channel through these converters."""
        return None
