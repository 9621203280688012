"""Read cards from a serial card reader on the event loop, without threads.

pyserial opens the port (it sets O_NONBLOCK on the descriptor) and the loop watches the descriptor
with `add_reader`; every chunk goes through the family's decoder. Corrupt frames are logged on
the `drivers.readers` logger and counted. Repeated reads of one card are debounced: a read within
`debounce_s` of the previous read of the same card (delivered or not) is suppressed, so a card
held on a reader that repeats (RDM6300, a polled PN532) counts once, and counts again only after
it has been away for `debounce_s`.

For a PN532 the host drives the conversation: wake it and send SAMConfiguration once (plus
RFConfiguration so polls return when no card is there), then InListPassiveTarget every
`poll_interval_s`, each command answered by an ACK and then a response. A command that fails
(no ACK, no response, an error frame) makes the next poll start again from the wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

import serial

from drivers.readers import pn532
from drivers.readers.frames import CardRead, FrameError
from drivers.readers.line_reader import LineDecoder
from drivers.readers.rdm6300 import Rdm6300Decoder
from drivers.readers.wiegand import WiegandDecoder

log = logging.getLogger("drivers.readers")

Decoder = LineDecoder | Rdm6300Decoder | WiegandDecoder | pn532.Pn532Decoder


class ReaderClosed(Exception):
    """The reader was closed, or its port failed; `reason` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CommandError(Exception):
    """A command to the reader failed: not written, or (PN532) no ACK, no or the wrong response."""


class SerialCardReader:
    """One reader on one serial port. Use as `async with`; iterate it, or pass `on_read`.

    With `on_read` every accepted read is handed to the callback (on the loop) and nothing is
    queued; without it reads queue for `read()` / `async for`, at most `queue_size` of them (the
    oldest is dropped, with a warning, if nobody reads).
    """

    def __init__(
        self,
        port: str,
        decoder: Decoder,
        *,
        baudrate: int | None = None,
        debounce_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        on_read: Callable[[CardRead], None] | None = None,
        poll_interval_s: float = 0.2,
        command_timeout_s: float = 1.0,
        queue_size: int = 64,
    ) -> None:
        self.port = port
        self.decoder = decoder
        self._pn532 = isinstance(decoder, pn532.Pn532Decoder)
        # PN532 HSU starts at 115200; the simple readers ship at 9600.
        self.baudrate = baudrate or (115200 if self._pn532 else 9600)
        self.debounce_s = debounce_s
        self.poll_interval_s = poll_interval_s
        self.command_timeout_s = command_timeout_s
        self.dropped = 0
        self.suppressed = 0
        self.command_failures = 0
        self.recent_drops: deque[str] = deque(maxlen=32)
        self._clock = clock
        self._on_read = on_read
        self._last_seen: dict[tuple[str, str], float] = {}
        self._reads: asyncio.Queue[CardRead | None] = asyncio.Queue(queue_size)
        self._replies: asyncio.Queue[pn532.Frame | pn532.Ack | pn532.Nack] = asyncio.Queue()
        self._command_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._feedback_generation = 0
        self._serial: serial.Serial | None = None
        self._closed: str | None = None
        self._closed_event = asyncio.Event()

    async def __aenter__(self) -> SerialCardReader:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def open(self) -> None:
        """Open the port and start reading (and, for a PN532, polling). Needs a running loop."""
        loop = asyncio.get_running_loop()
        # timeout=0: read() returns what is there and never blocks the loop.
        self._serial = serial.Serial(self.port, self.baudrate, timeout=0, write_timeout=1.0)
        loop.add_reader(self._serial.fileno(), self._on_readable)
        if self._pn532:
            self._spawn(self._poll_pn532())

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._shut("reader closed")

    def _shut(self, reason: str) -> None:
        if self._serial is not None:
            asyncio.get_running_loop().remove_reader(self._serial.fileno())
            self._serial.close()
            self._serial = None
        if self._closed is None:
            self._closed = reason
            self._closed_event.set()
            if self._reads.full():
                self._reads.get_nowait()
            self._reads.put_nowait(None)  # wakes a waiting read()

    async def closed(self) -> str:
        """Wait until the reader is closed or its port fails; why (e.g. "port failed: …")."""
        await self._closed_event.wait()
        return self._closed or "reader closed"

    async def read(self) -> CardRead:
        """The next accepted read; raises ReaderClosed once the reader is closed."""
        if self._closed is not None and self._reads.empty():
            raise ReaderClosed(self._closed)
        item = await self._reads.get()
        if item is None:
            self._reads.put_nowait(None)  # keep waking later callers too
            raise ReaderClosed(self._closed or "reader closed")
        return item

    def __aiter__(self) -> SerialCardReader:
        return self

    async def __anext__(self) -> CardRead:
        try:
            return await self.read()
        except ReaderClosed:
            raise StopAsyncIteration from None

    async def send_feedback(self, ok: bool) -> bool:
        """Show ok/wrong on the reader. False when the family has no feedback channel (RDM6300,
        Wiegand converters) or the reader did not take the command."""
        if self._serial is None:
            return False
        if isinstance(self.decoder, pn532.Pn532Decoder):
            return await self._pn532_feedback(ok)
        command = self.decoder.feedback(ok)
        if command is None:
            return False
        try:
            self._write(command)
        except CommandError as exc:
            log.warning("%s: feedback not sent: %s", self.port, exc)
            return False
        return True

    def _write(self, data: bytes) -> None:
        """A few bytes at most; the tty buffer takes them at once, so a plain write is fine."""
        if self._serial is None:
            raise CommandError("port closed")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            raise CommandError(f"write failed: {exc}") from None

    # -- bytes in -------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        assert self._serial is not None
        try:
            data = self._serial.read(4096)
        except (serial.SerialException, OSError) as exc:
            log.error("%s: port failed: %s", self.port, exc)
            self._shut(f"port failed: {exc}")
            return
        for item in self.decoder.feed(data):
            self._handle(item)

    def _handle(self, item: CardRead | FrameError | pn532.Frame | pn532.Ack | pn532.Nack) -> None:
        if isinstance(item, FrameError):
            self._drop(item)
        elif isinstance(item, CardRead):
            self._deliver(item)
        else:
            self._replies.put_nowait(item)

    def _drop(self, error: FrameError) -> None:
        self.dropped += 1
        self.recent_drops.append(error.reason)
        log.warning("%s: dropped frame: %s (raw %s)", self.port, error.reason, error.raw.hex(" "))

    def _deliver(self, read: CardRead) -> None:
        now = self._clock()
        key = (read.format, read.uid)
        last = self._last_seen.get(key)
        self._last_seen[key] = now
        if len(self._last_seen) > 1024:
            # Forget cards whose window has passed, so a busy gate does not grow this for ever.
            self._last_seen = {
                k: t for k, t in self._last_seen.items() if now - t < self.debounce_s
            }
        if last is not None and now - last < self.debounce_s:
            self.suppressed += 1
            return
        if self._on_read is not None:
            try:
                self._on_read(read)
            except Exception:
                log.exception("%s: on_read callback failed for %s", self.port, read.uid)
            return
        if self._reads.full():
            lost = self._reads.get_nowait()
            log.warning("%s: nobody is reading; dropped queued read %s", self.port, lost)
        self._reads.put_nowait(read)

    # -- PN532 host -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll_pn532(self) -> None:
        ready = False
        while self._serial is not None:
            try:
                async with self._command_lock:
                    if not ready:
                        await self._command(pn532.sam_configuration(), wake=True)
                        await self._command(pn532.rf_max_retries())
                        ready = True
                    reply = await self._command(pn532.in_list_passive_target())
                for uid in pn532.parse_in_list_passive_target(reply):
                    self._deliver(CardRead(uid.hex().upper(), pn532.FORMAT, uid))
            except FrameError as exc:
                self._drop(exc)
            except CommandError as exc:
                self.command_failures += 1
                log.warning("%s: PN532 %s; starting over with a wake-up", self.port, exc)
                ready = False
            await asyncio.sleep(self.poll_interval_s)

    async def _command(self, command: bytes, wake: bool = False) -> bytes:
        """Send one command, wait for its ACK and response; the response's PD (from cmd+1)."""
        while not self._replies.empty():
            self._replies.get_nowait()  # leftovers of an abandoned exchange
        self._write((pn532.WAKEUP if wake else b"") + pn532.command_frame(command))
        ack = await self._reply(f"ACK to command {command[0]:02X}")
        if not isinstance(ack, pn532.Ack):
            raise CommandError(f"expected ACK to command {command[0]:02X}, got {ack}")
        response = await self._reply(f"response to command {command[0]:02X}")
        if not isinstance(response, pn532.Frame) or response.is_error:
            raise CommandError(f"command {command[0]:02X} rejected: {response}")
        if response.tfi != pn532.PN532_TO_HOST or response.data[:1] != bytes([command[0] + 1]):
            raise CommandError(f"command {command[0]:02X} got a stray reply {response}")
        return response.data

    async def _reply(self, what: str) -> pn532.Frame | pn532.Ack | pn532.Nack:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives with the reply, and the polling task would never stop.
            async with asyncio.timeout(self.command_timeout_s):
                return await self._replies.get()
        except TimeoutError:
            # The line went quiet: a frame still waiting for bytes never will get them.
            assert isinstance(self.decoder, pn532.Pn532Decoder)
            for item in self.decoder.flush():
                self._handle(item)
            if not self._replies.empty():
                return self._replies.get_nowait()
            raise CommandError(f"no {what} within {self.command_timeout_s} s") from None

    async def _pn532_feedback(self, ok: bool) -> bool:
        try:
            async with self._command_lock:
                await self._command(pn532.feedback_command(ok))
        except CommandError as exc:
            log.warning("%s: PN532 feedback not taken: %s", self.port, exc)
            return False
        self._feedback_generation += 1
        self._spawn(self._pn532_feedback_off(self._feedback_generation, ok))
        return True

    async def _pn532_feedback_off(self, generation: int, ok: bool) -> None:
        await asyncio.sleep(pn532.OK_PULSE_S if ok else pn532.WRONG_PULSE_S)
        if generation != self._feedback_generation:
            return  # a newer feedback owns the LEDs now
        try:
            async with self._command_lock:
                await self._command(pn532.write_gpio())
        except CommandError as exc:
            log.warning("%s: PN532 feedback could not be switched off: %s", self.port, exc)
