"""Pseudo-terminals that stand in for serial lines, so drivers open a real tty through pyserial.

`PtyPort` is one line: the simulator holds the master side, the driver opens `path`.
`NullModem` links two ptys, for a simulator that itself needs a tty path (pymodbus's RTU server).
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import termios
import threading
import tty

from sitewatch.closing import Closing


class PtyPort(Closing):
    """One pseudo-terminal in raw mode: `path` for the driver, `write`/`read` for the simulator."""

    def __init__(self) -> None:
        self.master, self._slave = pty.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self, timeout: float = 1.0) -> bytes:
        """What the driver wrote (reader feedback commands), or b'' after `timeout`."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 4096) if ready else b""

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class NullModem(Closing):
    """Two ptys whose masters are cross-connected by a thread: bytes written on one arrive on the other."""

    def __init__(self) -> None:
        self.a = PtyPort()
        self.b = PtyPort()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._pump, name="null-modem", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        peers = {self.a.master: self.b.master, self.b.master: self.a.master}
        while True:
            ready, _, _ = select.select([*peers, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                    os.write(peers[fd], data)
                except OSError:
                    # No one has the other end open yet (EIO); the bytes are lost, as on a real
                    # line with nothing attached.
                    continue

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        self.a.close()
        self.b.close()
