"""Card readers of one node: open each serial reader, turn reads into taps, pass on feedback.

A reader that cannot be opened (unplugged, wrong port) is retried with capped backoff; the rest
of the node keeps running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers.readers import (
    CardRead,
    LineDecoder,
    Pn532Decoder,
    Rdm6300Decoder,
    ReaderClosed,
    SerialCardReader,
    WiegandDecoder,
)
from sitewatch import wire
from sitewatch.siteconfig import ReaderConfig

log = logging.getLogger(__name__)

RETRY_START_S = 1.0
RETRY_CAP_S = 30.0

_DECODERS = {
    "line": LineDecoder,
    "pn532": Pn532Decoder,
    "rdm6300": Rdm6300Decoder,
    "wiegand": WiegandDecoder,
}

OnTap = Callable[[wire.CardTap], None]


class ReaderService:
    """Runs every reader of a node; `feedback(reader, ok)` lights and beeps the right one."""

    def __init__(self, readers: dict[str, ReaderConfig], on_tap: OnTap) -> None:
        self.configs = readers
        self.on_tap = on_tap
        self.open: dict[str, SerialCardReader] = {}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for reader_id, config in self.configs.items():
                group.create_task(self._keep_open(reader_id, config))

    async def _keep_open(self, reader_id: str, config: ReaderConfig) -> None:
        delay = RETRY_START_S
        while True:
            reader = SerialCardReader(
                config.port,
                _DECODERS[config.family](),
                baudrate=config.default_baudrate,
                debounce_s=config.debounce_s,
                on_read=lambda read, rid=reader_id: self._tapped(rid, read),
            )
            try:
                async with reader:
                    self.open[reader_id] = reader
                    delay = RETRY_START_S
                    log.info("reader %s open on %s", reader_id, config.port)
                    await reader.closed()
            except (OSError, ReaderClosed) as exc:
                log.warning(
                    "reader %s on %s: %s; retry in %.0f s", reader_id, config.port, exc, delay
                )
            finally:
                self.open.pop(reader_id, None)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP_S)

    def _tapped(self, reader_id: str, read: CardRead) -> None:
        self.on_tap(
            wire.CardTap(reader=reader_id, card=read.uid, format=read.format, ts=wire.now_ms())
        )

    async def feedback(self, reader_id: str, ok: bool) -> bool:
        """Ok (green, short beep) or wrong (red, long beep); False if the reader cannot show it."""
        reader = self.open.get(reader_id)
        if reader is None:
            log.warning("feedback for reader %s, which is not open", reader_id)
            return False
        return await reader.send_feedback(ok)
