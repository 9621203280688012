"""Card readers on pseudo-terminals, one per family, sending the bytes the hardware sends.

Each simulator owns a `PtyPort`; a driver opens `path` with pyserial. `tap(card)` presents a card,
`garbage(data)` puts raw bytes on the line, and `feedback` records the ok (True) / wrong (False)
commands the driver sent, for the families that have a feedback channel (line readers, PN532).
A thread answers the host, as the reader's own firmware would.

The framing here is written out again rather than imported from `drivers/`, so a test of a
driver against a simulator checks one implementation against another (and simulators may not
import drivers).
"""

from __future__ import annotations

import os
import select
import threading
from collections import deque
from collections.abc import Callable

from simulators.serial_link import PtyPort
from sitewatch.closing import Closing


class _ReaderSim(Closing):
    """A pty plus a thread that hands whatever the host writes to `_from_host`."""

    def __init__(self) -> None:
        self.port = PtyPort()
        self.feedback: list[bool] = []
        self.from_host = bytearray()
        self._changed = threading.Condition()
        self._write_lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return self.port.path

    def garbage(self, data: bytes) -> None:
        self._write(data)

    def wait_feedback(self, count: int, timeout: float = 5.0) -> list[bool]:
        """Block until `count` feedback commands have arrived (call via asyncio.to_thread)."""
        self.wait_until(lambda: len(self.feedback) >= count, timeout)
        return list(self.feedback)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds after something the host sent; False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        self.port.close()

    def _write(self, data: bytes) -> None:
        # The test thread (tap, garbage) and the answering thread both write; keep frames whole.
        with self._write_lock:
            self.port.write(data)

    def _record_feedback(self, ok: bool) -> None:
        with self._changed:
            self.feedback.append(ok)
            self._changed.notify_all()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self.port.master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self.port.master, 4096)
            except OSError:
                continue
            self.from_host.extend(data)
            self._from_host(data)
            self._notify()

    def _from_host(self, data: bytes) -> None:
        """Readers without a feedback channel ignore what the host sends."""


class LineReaderSim(_ReaderSim):
    """A reader that prints the hex UID + CRLF per card and takes "OK"/"ER" lines back."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self.unknown: list[bytes] = []
        super().__init__()

    def tap(self, card: str) -> None:
        self._write(card.upper().encode() + b"\r\n")

    def _from_host(self, data: bytes) -> None:
        self._pending.extend(data)
        while b"\n" in self._pending:
            line, _, rest = bytes(self._pending).partition(b"\n")
            self._pending[:] = rest
            line = line.rstrip(b"\r")
            if line in (b"OK", b"ER"):
                self._record_feedback(line == b"OK")
            else:
                self.unknown.append(line)


class Rdm6300Sim(_ReaderSim):
    """An RDM6300: STX, 10 hex digits, 2 hex digits of XOR checksum, ETX. No feedback."""

    def tap(self, card: str, repeats: int = 1) -> None:
        """Present the 10-hex-digit EM4100 id; `repeats` frames, as when a card is held."""
        data = bytes.fromhex(card)
        check = 0
        for byte in data:
            check ^= byte
        frame = b"\x02" + f"{card.upper()}{check:02X}".encode() + b"\x03"
        self._write(frame * repeats)


class WiegandConverterSim(_ReaderSim):
    """A Wiegand-to-serial converter printing each read's bits as '0'/'1' + CRLF. No feedback."""

    def tap(self, card: str) -> None:
        """`card` as the driver names it: "W26:<facility>:<number>" or "W34:<number>"."""
        kind, *fields = card.split(":")
        if kind == "W26":
            data = f"{int(fields[0]):08b}{int(fields[1]):016b}"
        elif kind == "W34":
            data = f"{int(fields[0]):032b}"
        else:
            raise ValueError(f"not a Wiegand card id: {card}")
        half = len(data) // 2
        even = data[:half].count("1") % 2  # makes the first half + leading bit even
        odd = 1 - data[half:].count("1") % 2  # makes the second half + trailing bit odd
        self.tap_bits(f"{even}{data}{odd}")

    def tap_bits(self, bits: str) -> None:
        self._write(bits.encode() + b"\r\n")


def _pn532_frame(tfi: int, data: bytes) -> bytes:
    length = 1 + len(data)
    return (
        bytes([0x00, 0x00, 0xFF, length, (0x100 - length) & 0xFF, tfi])
        + data
        + bytes([(0x100 - (tfi + sum(data)) % 0x100) & 0xFF, 0x00])
    )


_ACK = bytes([0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00])
_ERROR = bytes([0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00])
# SENS_RES (ATQA) and SEL_RES (SAK) by UID size: MIFARE Classic 1K, Ultralight/NTAG, triple size.
_TARGET_TYPE = {4: (b"\x00\x04", 0x08), 7: (b"\x00\x44", 0x00), 10: (b"\x00\x84", 0x00)}


class Pn532Sim(_ReaderSim):
    """A PN532 on HSU: ACKs each host command, then answers it.

    InListPassiveTarget returns the next card given to `present` (once); with no card it answers
    "no target" if the host set a finite passive-activation retry count (RFConfiguration item 5),
    and otherwise holds the answer until a card comes, as the chip does. WriteGPIO on our wiring
    (P30 green, P33 red) is recorded as feedback; `gpio` keeps every P3 value written.
    """

    def __init__(self) -> None:
        self._rx = bytearray()
        self._cards: deque[bytes] = deque()
        self._state = threading.Lock()
        self._waiting_poll = False
        self._finite_retries = False
        self.commands: list[int] = []
        self.gpio: list[int] = []
        self.host_errors: list[str] = []
        # While muted the chip is as good as unpowered: host bytes are counted, never answered.
        self.mute = False
        self.ignored = 0
        super().__init__()

    def tap(self, card: str) -> None:
        self.present(card)

    def present(self, uid: str | bytes) -> None:
        with self._state:
            self._cards.append(bytes.fromhex(uid) if isinstance(uid, str) else uid)
            answer_now, self._waiting_poll = self._waiting_poll, False
        if answer_now:
            self._answer_poll()

    def _from_host(self, data: bytes) -> None:
        if self.mute:
            self.ignored += len(data)
            return
        self._rx.extend(data)
        while True:
            start = self._rx.find(b"\x00\xff")
            if start < 0:
                del self._rx[: max(0, len(self._rx) - 1)]
                return
            del self._rx[:start]
            if len(self._rx) < 5:
                return
            length, lcs = self._rx[2], self._rx[3]
            if length == 0x00 and lcs == 0xFF:  # the host's ACK aborts a command: nothing to do
                del self._rx[:5]
                continue
            if (length + lcs) % 0x100 != 0 or length == 0:
                self.host_errors.append("LCS")
                del self._rx[:2]
                continue
            if len(self._rx) < 4 + length + 2:
                return
            body, dcs = bytes(self._rx[4 : 4 + length]), self._rx[4 + length]
            del self._rx[: 4 + length + 2]
            if (sum(body) + dcs) % 0x100 != 0 or body[0] != 0xD4:
                self.host_errors.append("DCS or TFI")
                continue
            self._command(body[1:])

    def _command(self, command: bytes) -> None:
        code = command[0]
        self.commands.append(code)
        if code == 0x4A:
            self._write(_ACK)
            with self._state:
                self._waiting_poll = not self._cards and not self._finite_retries
                if self._waiting_poll:
                    return
            self._answer_poll()
            return
        answers = {0x02: b"\x03\x32\x01\x06\x07", 0x14: b"\x15", 0x32: b"\x33", 0x0E: b"\x0f"}
        if code not in answers:
            self._write(_ACK + _ERROR)
            return
        if code == 0x32 and command[1:2] == b"\x05":
            self._finite_retries = command[4] != 0xFF
        if code == 0x0E:
            p3 = command[1]
            if p3 & 0x80:
                self.gpio.append(p3)
                green, red = bool(p3 & 0x01), bool(p3 & 0x08)
                if green or red:
                    self._record_feedback(green and not red)
        self._write(_ACK)
        self._write(_pn532_frame(0xD5, answers[code]))

    def _answer_poll(self) -> None:
        with self._state:
            uid = self._cards.popleft() if self._cards else None
        if uid is None:
            self._write(_pn532_frame(0xD5, b"\x4b\x00"))
            return
        sens_res, sel_res = _TARGET_TYPE[len(uid)]
        target = b"\x01" + sens_res + bytes([sel_res, len(uid)]) + uid
        self._write(_pn532_frame(0xD5, b"\x4b\x01" + target))
