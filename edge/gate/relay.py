"""One lane's barrier relay: close the coil, read it back, open it again after the pulse.

The relay module belongs to the node's DevicePoller, so the pulse goes through the poller's own
bus (one connection per bus; the bus serialises our write with its polls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from drivers.modbus import DeviceError
from edge.poller import DevicePoller, register_spec
from sitewatch.parkingconfig import Relay

log = logging.getLogger(__name__)

RELEASE_TRIES = 3
RELEASE_RETRY_S = 1.0
RELEASE_ON_STOP_S = 1.0


class RelayPulser:
    """Pulses one coil; a pulse while one is held extends it rather than stacking writes."""

    def __init__(self, lane: str, relay: Relay, poller: DevicePoller) -> None:
        self.lane = lane
        self.relay = relay
        self.poller = poller
        self.spec = register_spec(relay.point, poller.device.points[relay.point])
        self.held = False
        self._release: asyncio.Task[None] | None = None
        # The bus lets other requests in between a write and its read-back; this keeps a release
        # from landing between a new pulse's write and its read-back (and failing it).
        self._lock = asyncio.Lock()

    async def pulse(self) -> bool:
        """Close the contact now; True when the read-back shows it closed. The release to
        follow is scheduled either way: a failed read-back may still have closed it."""
        async with self._lock:
            # Under the lock, a pending release is asleep or waiting for the lock, never in
            # the middle of a request: cancelling it is safe, and the pulse starts afresh.
            if self._release is not None:
                self._release.cancel()
            self.held = True
            try:
                await self.poller.bus.write(self.poller.device.unit, self.spec, True)
            except DeviceError as exc:
                log.error(
                    "lane %s: relay %s.%s not confirmed: %s",
                    self.lane,
                    self.relay.device,
                    self.relay.point,
                    exc.reason,
                )
                return False
            finally:
                self._release = asyncio.get_running_loop().create_task(self._open_after())
            return True

    async def _open_after(self) -> None:
        await asyncio.sleep(self.relay.pulse_s)
        for attempt in range(1, RELEASE_TRIES + 1):
            async with self._lock:
                try:
                    await self.poller.bus.write(self.poller.device.unit, self.spec, False)
                except DeviceError as exc:
                    # A held relay keeps the barrier up: worth a retry, and an error in the log.
                    log.error(
                        "lane %s: relay release %d failed: %s", self.lane, attempt, exc.reason
                    )
                else:
                    self.held = False
                    return
            await asyncio.sleep(RELEASE_RETRY_S)

    async def stop(self) -> None:
        """On the way out: never leave a barrier held up by a pulse that was cut short."""
        if self._release is None or self._release.done():
            return
        self._release.cancel()
        with contextlib.suppress(DeviceError, TimeoutError):
            async with asyncio.timeout(RELEASE_ON_STOP_S), self._lock:
                await self.poller.bus.write(self.poller.device.unit, self.spec, False)
                self.held = False
