"""Scriptable fire-pump-room behaviour (pumps, valves, pressure, leaks) on the Modbus simulator."""

from __future__ import annotations

import asyncio

from simulators.modbus_server import ModbusSimulator
from sitewatch.siteconfig import PointSpec


def healthy_value(spec: PointSpec) -> bool | int | float:
    """A value that raises no alarm: what a well-kept pump room reads."""
    rule = spec.alarm
    if spec.is_bool:
        return (not rule.when) if rule and isinstance(rule.when, bool) else False
    if spec.states:
        return min(spec.states)
    if rule and rule.low is not None:
        return round(rule.low * 1.7, 3) if rule.high is None else (rule.low + rule.high) / 2
    if rule and rule.high is not None:
        return rule.high / 2
    return 0


class PumpRoom:
    """Drive the simulated devices the way a real pump room behaves in the scripted situations."""

    def __init__(self, sim: ModbusSimulator) -> None:
        self.sim = sim

    async def normal(self) -> None:
        """Every device healthy: pumps in AUTO and stopped, valves open, pressure up, floor dry."""
        for device in self.sim.node.devices.values():
            for name, spec in device.points.items():
                await self.sim.set(device.id, name, healthy_value(spec))

    async def pump_start(self, device: str, cause: str = "demand") -> None:
        await self.sim.set(device, "start_cause", cause)
        await self.sim.set(device, "running", True)

    async def pump_stop(self, device: str) -> None:
        await self.sim.set(device, "running", False)
        await self.sim.set(device, "start_cause", "none")
        if "failed_to_start" in self.sim.node.devices[device].points:
            await self.sim.set(device, "failed_to_start", False)

    async def pump_fail_to_start(self, device: str) -> None:
        """Demand arrives but the motor never runs: the controller flags failed-to-start."""
        await self.sim.set(device, "start_cause", "demand")
        await self.sim.set(device, "running", False)
        await self.sim.set(device, "failed_to_start", True)

    async def pump_mode(self, device: str, auto: bool) -> None:
        await self.sim.set(device, "in_auto", auto)

    async def pressure(self, device: str, mpa: float) -> None:
        await self.sim.set(device, "pressure", mpa)

    async def pressure_decay(self, device: str, to: float, over_s: float, steps: int = 10) -> None:
        """Bleed the line down to `to` MPa linearly over `over_s` seconds (a leak or a draining riser)."""
        start = float(self.sim.values.get((device, "pressure"), to))
        for i in range(1, steps + 1):
            await asyncio.sleep(over_s / steps)
            await self.sim.set(device, "pressure", round(start + (to - start) * i / steps, 4))

    async def leak(self, device: str, zone: int = 1, active: bool = True) -> None:
        await self.sim.set(device, f"zone{zone}", active)

    async def waterflow(self, device: str, active: bool = True) -> None:
        await self.sim.set(device, "waterflow", active)
        await self.sim.set(device, "pressure_switch", active)

    async def valve(self, device: str, open_: bool = True) -> None:
        await self.sim.set(device, "valve_open", open_)

    async def weekly_test(
        self,
        device: str,
        run_s: float,
        start_s: float = 1.0,
        pressure: tuple[str, float] | None = None,
    ) -> None:
        """The controller's scheduled weekly test (每周自动巡检): an automatic start with cause
        `test`, running `start_s` later for `run_s`, with the line pressure raised while it runs."""
        await self.sim.set(device, "start_cause", "test")
        await asyncio.sleep(start_s)
        await self.sim.set(device, "running", True)
        before = None
        if pressure is not None:
            before = self.sim.values.get((pressure[0], "pressure"))
            await self.sim.set(pressure[0], "pressure", pressure[1])
        await asyncio.sleep(run_s)
        await self.sim.set(device, "running", False)
        await self.sim.set(device, "start_cause", "none")
        if pressure is not None and before is not None:
            await self.sim.set(pressure[0], "pressure", before)
