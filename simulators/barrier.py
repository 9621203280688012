"""A barrier arm on the simulated relay module: when its relay coil is closed the arm rises (the
open limit switch makes, the closed one breaks); when the coil opens again the arm stays up for
`hold_s` (the car drives through), then falls back.

It listens to the ModbusSimulator's writes, so whatever commands the relay (the edge's gate
controller, a test, a Modbus tool) moves the arm, as on a real garage barrier.
"""

from __future__ import annotations

import asyncio
import logging

from simulators.modbus_server import ModbusSimulator, Write
from sitewatch.siteconfig import Table

log = logging.getLogger(__name__)


class Barrier:
    """One lane's arm: `relay` is a coil of `device`, the limits are its discrete inputs."""

    def __init__(
        self,
        sim: ModbusSimulator,
        device: str,
        relay: str = "relay1",
        open_limit: str = "barrier_open",
        closed_limit: str = "barrier_closed",
        hold_s: float = 1.0,
    ) -> None:
        self.sim = sim
        self.device = device
        self.relay_address = sim.node.devices[device].points[relay].address
        self.open_limit = open_limit
        self.closed_limit = closed_limit
        self.hold_s = hold_s
        self.raised = asyncio.Event()
        self.lowered = asyncio.Event()
        self.lifts = 0
        self._moving: asyncio.Task[None] | None = None
        self._heading_up = False

    async def __aenter__(self) -> Barrier:
        await self._show(False)
        self.sim.on_write.append(self._written)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.sim.on_write.remove(self._written)
        if self._moving is not None:
            self._moving.cancel()

    def _written(self, write: Write) -> None:
        if write.device != self.device or write.table is not Table.COIL:
            return
        offset = self.relay_address - write.address
        if not 0 <= offset < len(write.values):
            return
        up = bool(write.values[offset])
        if self._moving is not None and not self._moving.done():
            if up == self._heading_up:
                return  # already moving that way: a repeated write changes nothing
            self._moving.cancel()
        self._heading_up = up
        # Not from inside the server's request: the limits change after it has answered.
        self._moving = asyncio.get_running_loop().create_task(self._move(up))

    async def _move(self, up: bool) -> None:
        if not up:
            await asyncio.sleep(self.hold_s)
        await self._show(up)

    async def _show(self, up: bool) -> None:
        await self.sim.set(self.device, self.open_limit, up)
        await self.sim.set(self.device, self.closed_limit, not up)
        if up:
            self.lifts += 1
            self.lowered.clear()
            self.raised.set()
        else:
            self.raised.clear()
            self.lowered.set()
