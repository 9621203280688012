"""NXP PN532 over its high-speed UART (HSU): frames, the commands a checkpoint reader needs, replies.

Framing per the PN532 User Manual (UM0701-02) §6.2:

    normal information frame   00 00 FF LEN LCS TFI PD0..PDn DCS 00
    extended information frame 00 00 FF FF FF LENM LENL LCS TFI PD0..PDn DCS 00
    ACK                        00 00 FF 00 FF 00
    NACK                       00 00 FF FF 00 00
    error frame                00 00 FF 01 FF 7F 81 00   (the PN532 rejected the host's frame)

LEN counts TFI + PD; LEN + LCS ≡ 0 and TFI + ΣPD + DCS ≡ 0 (mod 256). TFI is D4 host → PN532
and D5 PN532 → host. The leading 00 (preamble) is optional on the wire, and a host wakes a
sleeping PN532 with 55 55 00 00 …; the decoder treats 00 and 55 between frames as filler.

Feedback wiring we assume (our reader boards): P30 drives a green LED, P31 a buzzer and P33 a red
LED, all active-high through transistor drivers. P32 and P34 are interface lines and must stay
high in every WriteGPIO, as NXP's and Adafruit's code do; P7 is left alone (validation bit clear).
"Ok" is green + buzzer for OK_PULSE_S, "wrong" red + buzzer for WRONG_PULSE_S, then all off.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.readers.frames import FrameError

FORMAT = "iso14443a"
HOST_TO_PN532 = 0xD4
PN532_TO_HOST = 0xD5
ERROR_TFI = 0x7F

ACK_FRAME = bytes.fromhex("0000FF00FF00")
NACK_FRAME = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")
WAKEUP = b"\x55\x55" + bytes(14)

GET_FIRMWARE_VERSION = 0x02
WRITE_GPIO = 0x0E
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_LIST_PASSIVE_TARGET = 0x4A

# Longest TFI+PD we accept. PN532 frames carry at most about 265 bytes (its internal buffer); a
# larger extended length is corruption, and must not make us wait for 64 KiB.
MAX_FRAME_LEN = 300

GPIO_GREEN = 0  # P30
GPIO_BUZZER = 1  # P31
GPIO_RED = 3  # P33
_GPIO_RESERVED = (1 << 2) | (1 << 4)  # P32, P34
_GPIO_VALID = 0x80
OK_PULSE_S = 0.15
WRONG_PULSE_S = 0.6

_START = b"\x00\xff"
_FILLER = frozenset((0x00, 0x55))


@dataclass(frozen=True)
class Frame:
    """An information frame: `tfi` (D4, D5, or 7F for the error frame) and PD0..PDn in `data`."""

    tfi: int
    data: bytes

    @property
    def is_error(self) -> bool:
        return self.tfi == ERROR_TFI


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Nack:
    pass


Item = Frame | Ack | Nack | FrameError


def encode_frame(tfi: int, data: bytes) -> bytes:
    """An information frame; the extended form when TFI + data exceed 255 bytes."""
    length = 1 + len(data)
    if length > MAX_FRAME_LEN:
        raise ValueError(f"PN532 frames carry at most {MAX_FRAME_LEN - 1} data bytes")
    dcs = -(tfi + sum(data)) & 0xFF
    if length <= 0xFF:
        header = bytes([length, -length & 0xFF])
    else:
        high, low = length >> 8, length & 0xFF
        header = bytes([0xFF, 0xFF, high, low, -(high + low) & 0xFF])
    return b"\x00\x00\xff" + header + bytes([tfi]) + data + bytes([dcs, 0x00])


def command_frame(command: bytes) -> bytes:
    """A host → PN532 frame for `command` (command code + parameters)."""
    return encode_frame(HOST_TO_PN532, command)


class Pn532Decoder:
    """Streaming HSU decoder. Returns frames, ACK/NACK and `FrameError`s; never raises.

    After a bad length checksum, data checksum, postamble or unknown TFI it drops only the start
    code and rescans, so a real frame hidden behind a false start (noise that happened to contain
    00 FF) is still found. `flush()` is for when the line has gone quiet: a frame still waiting
    for bytes is reported as truncated and whatever follows its start code is rescanned.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        # True from an error until the next good frame: noise right after a reported error is
        # the rest of the same damage and is not reported again.
        self._in_error = False

    def feed(self, data: bytes) -> list[Item]:
        self._buf.extend(data)
        return self._parse(final=False)

    def flush(self) -> list[Item]:
        return self._parse(final=True)

    def _parse(self, final: bool) -> list[Item]:
        out: list[Item] = []
        while True:
            start = self._buf.find(_START)
            if start < 0:
                # A trailing 00 may be the first half of the next start code.
                keep = 1 if not final and self._buf.endswith(b"\x00") else 0
                self._skip(len(self._buf) - keep, out)
                return out
            self._skip(start, out)
            found = self._frame()
            if found is None:
                if not final:
                    return out
                found = (FrameError("pn532: truncated frame", bytes(self._buf[:32])), 0)
            item, size = found
            out.append(item)
            if isinstance(item, FrameError):
                del self._buf[:2]
                self._in_error = True
            else:
                del self._buf[:size]
                self._in_error = False

    def _skip(self, count: int, out: list[Item]) -> None:
        noise = self._buf[:count]
        if not self._in_error and any(byte not in _FILLER for byte in noise):
            out.append(
                FrameError(f"pn532: {count} byte(s) of noise outside a frame", bytes(noise[:32]))
            )
            self._in_error = True
        del self._buf[:count]

    def _frame(self) -> tuple[Item, int] | None:
        """The frame at the start code at the head of the buffer, with its size; None if the
        bytes so far are a valid prefix that needs more."""
        buf = self._buf
        if len(buf) < 5:
            return None
        if buf[2:4] in (b"\x00\xff", b"\xff\x00"):
            item: Item = Ack() if buf[2] == 0x00 else Nack()
            return (item, 5) if buf[4] == 0x00 else (self._bad_postamble(buf[4], 5), 0)
        if buf[2:4] == b"\xff\xff":
            if len(buf) < 7:
                return None
            high, low, lcs = buf[4], buf[5], buf[6]
            if (high + low + lcs) & 0xFF:
                return FrameError(
                    "pn532: extended length checksum (LCS) mismatch", bytes(buf[:7])
                ), 0
            length, header = (high << 8) | low, 7
        else:
            if (buf[2] + buf[3]) & 0xFF:
                return FrameError("pn532: length checksum (LCS) mismatch", bytes(buf[:4])), 0
            length, header = buf[2], 4
        if length == 0 or length > MAX_FRAME_LEN:
            return FrameError(f"pn532: impossible frame length {length}", bytes(buf[:header])), 0
        total = header + length + 2
        if len(buf) < total:
            return None
        body = bytes(buf[header : header + length])
        if (sum(body) + buf[header + length]) & 0xFF:
            return FrameError("pn532: data checksum (DCS) mismatch", bytes(buf[:total])), 0
        if buf[total - 1] != 0x00:
            return self._bad_postamble(buf[total - 1], total), 0
        if body[0] not in (HOST_TO_PN532, PN532_TO_HOST, ERROR_TFI):
            return FrameError(f"pn532: unknown frame identifier {body[0]:02X}", body), 0
        return Frame(body[0], body[1:]), total

    def _bad_postamble(self, byte: int, size: int) -> FrameError:
        return FrameError(f"pn532: bad postamble {byte:02X}", bytes(self._buf[:size]))


def sam_configuration() -> bytes:
    """SAMConfiguration: normal mode (no SAM), 1 s virtual-card timeout, IRQ pin used."""
    return bytes([SAM_CONFIGURATION, 0x01, 0x14, 0x01])


def rf_max_retries(passive_activation: int = 0x02) -> bytes:
    """RFConfiguration item 5 (MaxRetries). With few passive-activation retries an
    InListPassiveTarget answers "no target" quickly instead of waiting for a card for ever, which
    is what lets a polling host interleave feedback commands."""
    return bytes([RF_CONFIGURATION, 0x05, 0xFF, 0x01, passive_activation])


def in_list_passive_target() -> bytes:
    """InListPassiveTarget: at most 1 target, 106 kbps type A (ISO/IEC 14443A)."""
    return bytes([IN_LIST_PASSIVE_TARGET, 0x01, 0x00])


def write_gpio(*, green: bool = False, red: bool = False, buzzer: bool = False) -> bytes:
    """WriteGPIO for our wiring (see the module docstring); all False switches everything off."""
    p3 = _GPIO_VALID | _GPIO_RESERVED
    p3 |= (green << GPIO_GREEN) | (red << GPIO_RED) | (buzzer << GPIO_BUZZER)
    return bytes([WRITE_GPIO, p3, 0x00])


def feedback_command(ok: bool) -> bytes:
    return write_gpio(green=ok, red=not ok, buzzer=True)


def parse_in_list_passive_target(data: bytes) -> list[bytes]:
    """The NFCID1 (UID) of each target in an InListPassiveTarget response (PD from 4B on).

    Per target: Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1, and an ATS when SEL_RES says the
    card is ISO/IEC 14443-4 compliant (bit 6, 0x20). Raises FrameError if the layout is off.
    """
    if len(data) < 2 or data[0] != IN_LIST_PASSIVE_TARGET + 1:
        raise FrameError("pn532: not an InListPassiveTarget response", data)
    count, pos, uids = data[1], 2, []
    if count > 2:
        raise FrameError(f"pn532: {count} targets reported, the PN532 handles at most 2", data)
    for _ in range(count):
        if pos + 5 > len(data):
            raise FrameError("pn532: target header truncated", data)
        sel_res, uid_len = data[pos + 3], data[pos + 4]
        pos += 5
        if uid_len not in (4, 7, 10):
            raise FrameError(f"pn532: NFCID1 length {uid_len}, expected 4, 7 or 10", data)
        if pos + uid_len > len(data):
            raise FrameError("pn532: NFCID1 truncated", data)
        uids.append(data[pos : pos + uid_len])
        pos += uid_len
        if sel_res & 0x20:
            # ATS: its first byte (TL) counts the whole ATS including itself.
            if pos >= len(data) or data[pos] == 0 or pos + data[pos] > len(data):
                raise FrameError("pn532: ATS missing or truncated", data)
            pos += data[pos]
    if pos != len(data):
        raise FrameError(f"pn532: {len(data) - pos} unexpected byte(s) after the targets", data)
    return uids
