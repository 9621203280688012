"""One poller per device: it owns the device's reads, its point values and their quality.

Everything else reads from the poller (like Home Assistant's DataUpdateCoordinator). Changes are
reported by exception: a new value beyond the point's deadband, or a change of quality.
"""

from __future__ import annotations

import asyncio
import logging
import math
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from drivers.modbus import DeviceError, ModbusBus, RegisterSpec, plan_reads
from sitewatch import wire
from sitewatch.siteconfig import Device, PointSpec, ScanClass, ScanPeriods, Table

log = logging.getLogger(__name__)

OFFLINE_AFTER_FAILURES = 3
# An offline device is only probed now and then, so its timeouts do not hold up its bus.
PROBE_START_S = 1.0
PROBE_CAP_S = 30.0

Report = Callable[[str, list[wire.PointValue | wire.DeviceStatus]], None]


def register_spec(name: str, point: PointSpec) -> RegisterSpec:
    """Translate a profile point into what the Modbus driver needs to read it."""
    return RegisterSpec(
        name=name,
        table=point.table.value,
        address=point.address,
        dtype=point.value_type.value,
        bit=point.bit,
        word_order=point.word_order,
        byte_order=point.byte_order,
        scale=point.scale,
        offset=point.offset,
    )


def engineering_value(point: PointSpec, raw: bool | int | float) -> wire.Value:
    """Named states become their names, so the cloud and the console speak the field's words."""
    if point.states is not None and isinstance(raw, int) and not isinstance(raw, bool):
        return point.states.get(raw, str(raw))
    return raw


@dataclass
class PointState:
    value: wire.Value = None
    quality: wire.Quality = wire.Quality.BAD
    ts: int = 0
    reported: wire.Value = None
    reported_quality: wire.Quality | None = None


def is_significant(point: PointSpec, state: PointState) -> bool:
    if state.reported_quality != state.quality:
        return True
    if (
        point.is_analog
        and isinstance(state.value, int | float)
        and isinstance(state.reported, int | float)
    ):
        change = abs(state.value - state.reported)
        # Exactly one deadband is not beyond it, whatever float rounding says at this magnitude.
        return change > point.deadband and not math.isclose(change, point.deadband, rel_tol=1e-9)
    return state.value != state.reported


class DevicePoller:
    """Polls one device per scan class on its bus and reports what changed."""

    def __init__(
        self, device: Device, bus: ModbusBus, periods: ScanPeriods, report: Report
    ) -> None:
        self.device = device
        self.bus = bus
        self.periods = periods
        self.report = report
        self.points = {name: PointState() for name in device.points}
        self.online: bool | None = None
        self.failures = 0
        self.error_count = 0
        self.polls: Counter[ScanClass] = Counter()
        self.last_error: str | None = None
        # One request cycle at a time per device: a dead device never has more than one
        # request waiting on the bus, so others wait at most one of its timeouts.
        self._cycle = asyncio.Lock()
        self._probe_interval = PROBE_START_S
        self._next_probe = 0.0

    def snapshot(self) -> list[wire.PointValue]:
        return [
            wire.PointValue(
                device=self.device.id, point=name, value=s.value, quality=s.quality, ts=s.ts
            )
            for name, s in self.points.items()
        ]

    def status(self) -> wire.DeviceStatus:
        return wire.DeviceStatus(
            device=self.device.id,
            online=bool(self.online),
            reason=self.last_error,
            ts=wire.now_ms(),
        )

    def _period_s(self, scan: ScanClass) -> float:
        return {
            ScanClass.FAST: self.periods.fast_ms,
            ScanClass.NORMAL: self.periods.normal_ms,
            ScanClass.SLOW: self.periods.slow_ms,
        }[scan] / 1000

    async def run(self) -> None:
        classes = {p.scan for p in self.device.points.values()}
        async with asyncio.TaskGroup() as group:
            for scan in classes:
                group.create_task(self._scan_loop(scan))

    async def _scan_loop(self, scan: ScanClass) -> None:
        names = [n for n, p in self.device.points.items() if p.scan is scan]
        blocks = plan_reads([register_spec(n, self.device.points[n]) for n in names])
        period = self._period_s(scan)
        loop = asyncio.get_running_loop()
        # Spread devices over the period, so a bus is not hit by every device at the same instant.
        phase = zlib.crc32(f"{self.device.id}/{scan.value}".encode()) % 1000 / 1000
        next_at = loop.time() + phase * period
        task = asyncio.current_task()
        while True:
            async with self._cycle:
                # Checked under the lock: another scan class may have just probed this device.
                if self.online is not False or loop.time() >= self._next_probe:
                    self.polls[scan] += 1
                    await self.poll_once(blocks)
                    if self.online is False:
                        self._next_probe = loop.time() + self._probe_interval
                        self._probe_interval = min(self._probe_interval * 2, PROBE_CAP_S)
                    else:
                        self._probe_interval = PROBE_START_S
            if task is not None and task.cancelling():
                # pymodbus awaits with asyncio.wait_for, which on Python 3.11 can swallow a
                # cancellation that lands as its response arrives; honour it here.
                raise asyncio.CancelledError
            next_at += period
            # After a long stall, skip the missed cycles instead of bursting to catch up.
            next_at = max(next_at, loop.time())
            await asyncio.sleep(next_at - loop.time())

    async def poll_once(self, blocks: list) -> None:
        items: list[wire.PointValue | wire.DeviceStatus] = []
        now = wire.now_ms()
        try:
            values: dict[str, bool | int | float] = {}
            for block in blocks:
                values.update(await self.bus.read(self.device.unit, block))
        except DeviceError as exc:
            self.failures += 1
            self.error_count += 1
            self.last_error = exc.reason
            if self.failures >= OFFLINE_AFTER_FAILURES and self.online is not False:
                self.online = False
                log.warning("%s offline: %s", self.device.id, exc.reason)
                items.append(self.status())
                for state in self.points.values():
                    state.quality = wire.Quality.BAD
                    state.ts = now
                items.extend(self._significant_changes())
            if items:
                self.report(self.device.id, items)
            return
        self.failures = 0
        self.last_error = None
        if self.online is not True:
            self.online = True
            items.append(self.status())
        items.extend(self._missed_pulses(values, now))
        for name, raw in values.items():
            state = self.points[name]
            value = engineering_value(self.device.points[name], raw)
            if value != state.value or state.quality is not wire.Quality.GOOD:
                state.value, state.quality, state.ts = value, wire.Quality.GOOD, now
        items.extend(self._significant_changes())
        await self._clear_latches(values)
        if items:
            self.report(self.device.id, items)

    def _missed_pulses(
        self, values: dict[str, bool | int | float], now: int
    ) -> list[wire.PointValue | wire.DeviceStatus]:
        """A latch that is set while its point reads false again means a pulse fell between two
        polls: report it as the rise and fall it was."""
        pulses: list[wire.PointValue | wire.DeviceStatus] = []
        for name, spec in self.device.points.items():
            state = self.points[name]
            if (
                spec.latch
                and values.get(spec.latch) is True
                and values.get(name) is False
                and state.reported is not True
            ):
                for value, ts in ((True, now - 1), (False, now)):
                    pulses.append(
                        wire.PointValue(device=self.device.id, point=name, value=value, ts=ts)
                    )
                state.value = state.reported = False
                state.quality = state.reported_quality = wire.Quality.GOOD
                state.ts = now
        return pulses

    async def _clear_latches(self, values: dict[str, bool | int | float]) -> None:
        for spec in self.device.points.values():
            if not spec.latch or values.get(spec.latch) is not True:
                continue
            latch = self.device.points[spec.latch]
            if latch.table is not Table.COIL:
                continue  # a discrete-input latch clears when it is read
            try:
                await self.bus.write(self.device.unit, register_spec(spec.latch, latch), False)
            except DeviceError as exc:
                log.warning(
                    "%s: could not clear latch %s: %s", self.device.id, spec.latch, exc.reason
                )

    def _significant_changes(self) -> list[wire.PointValue | wire.DeviceStatus]:
        changes: list[wire.PointValue | wire.DeviceStatus] = []
        for name, state in self.points.items():
            if state.ts and is_significant(self.device.points[name], state):
                state.reported, state.reported_quality = state.value, state.quality
                changes.append(
                    wire.PointValue(
                        device=self.device.id,
                        point=name,
                        value=state.value,
                        quality=state.quality,
                        ts=state.ts,
                    )
                )
        return changes
