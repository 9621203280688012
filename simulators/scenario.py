"""Scenario files: timed steps that drive a site's simulators (`sitewatch sim run SCENARIO.yaml`).

Device steps drive the Modbus devices of a node; `tap` and `reader_garbage` drive card readers, so
a scenario can walk a guard along a route or bring cars to a gate.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulators.faults import Fault
from simulators.pumproom import PumpRoom
from simulators.site import SiteSimulator
from sitewatch.siteconfig import PointSpec, Site

log = logging.getLogger(__name__)

Action = Literal[
    "normal",
    "pump_start",
    "pump_stop",
    "pump_fail_to_start",
    "pump_manual",
    "pump_auto",
    "pressure",
    "pressure_decay",
    "leak",
    "leak_clear",
    "waterflow",
    "waterflow_clear",
    "valve_close",
    "valve_open",
    "set",
    "pulse",
    "device_silent",
    "device_garbage",
    "device_bad_crc",
    "device_exception",
    "device_ok",
    "tap",
    "reader_garbage",
]

READER_ACTIONS = ("tap", "reader_garbage")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(ge=0, description="seconds from the start of the scenario (or of the loop)")
    action: Action
    node: str | None = Field(default=None, description="default: the scenario's node")
    device: str | None = None
    reader: str | None = Field(default=None, description="for tap and reader_garbage")
    card: str | None = Field(
        default=None,
        max_length=64,
        description="for tap: hex UID (NFC, EM4100), or W26:<facility>:<number> / W34:<number>",
    )
    cause: Literal["demand", "test", "manual"] = "demand"
    zone: int = Field(default=1, ge=1, le=16)
    point: str | None = Field(default=None, description="for set and pulse")
    value: float | bool | str | None = None
    over_s: float = Field(default=10.0, gt=0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    node: str
    loop: bool = False
    steps: list[Step] = Field(min_length=1)


def load_scenario(path: str | Path) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


# The points each pump-room action drives, so a step aimed at the wrong device is caught up front.
_NEEDS: dict[str, tuple[str, ...]] = {
    "pump_start": ("start_cause", "running"),
    "pump_stop": ("start_cause", "running"),
    "pump_fail_to_start": ("start_cause", "running", "failed_to_start"),
    "pump_manual": ("in_auto",),
    "pump_auto": ("in_auto",),
    "pressure": ("pressure",),
    "pressure_decay": ("pressure",),
    "waterflow": ("waterflow", "pressure_switch"),
    "waterflow_clear": ("waterflow", "pressure_switch"),
    "valve_close": ("valve_open",),
    "valve_open": ("valve_open",),
}


def _needed_points(step: Step) -> tuple[str, ...]:
    if step.action in ("leak", "leak_clear"):
        return (f"zone{step.zone}",)
    if step.action in ("set", "pulse"):
        return (step.point,) if step.point else ()
    return _NEEDS.get(step.action, ())


_HEX_DIGITS = {"line": (8, 14, 20), "pn532": (8, 14, 20), "rdm6300": (10,)}


def _card_problem(family: str, card: str) -> str | None:
    """Why `card` cannot be presented to a reader of `family`, or None."""
    if family == "wiegand":
        kind, *fields = card.split(":")
        limits = {"W26": (255, 65535), "W34": (2**32 - 1,)}.get(kind)
        if (
            limits is None
            or len(fields) != len(limits)
            or not all(f.isdigit() and int(f) <= top for f, top in zip(fields, limits, strict=True))
        ):
            return f"card {card!r} is not W26:<facility 0-255>:<number 0-65535> or W34:<number>"
        return None
    digits = _HEX_DIGITS[family]
    if len(card) not in digits or any(c not in "0123456789abcdefABCDEF" for c in card):
        return (
            f"card {card!r} is not {' or '.join(map(str, digits))} hex digits for a {family} reader"
        )
    return None


def _value_problem(spec: PointSpec, value: object) -> str | None:
    """Why a `set` step's value does not fit the point, or None."""
    if spec.is_bool:
        return None if isinstance(value, bool) else "needs true or false"
    if spec.states:
        names = set(spec.states.values())
        if value in names or (type(value) is int and value in spec.states):
            return None
        return f"needs one of the states {', '.join(spec.states.values())}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "needs a number"
    return None


def scenario_problems(scenario: Scenario, site: Site) -> list[str]:
    """What in the scenario does not exist in the site, one line per step."""
    if scenario.node not in site.nodes:
        return [
            f"node '{scenario.node}' is not in site '{site.id}' (nodes: {', '.join(site.nodes)})"
        ]
    problems = []
    for index, step in enumerate(scenario.steps):
        where = f"steps.{index} ({step.action} at {step.at:g} s)"
        node = site.nodes.get(step.node or scenario.node)
        if node is None:
            problems.append(f"{where}: node '{step.node}' is not in site '{site.id}'")
            continue
        if step.action in READER_ACTIONS:
            if step.reader not in node.readers:
                known = ", ".join(node.readers) or "none"
                problems.append(
                    f"{where}: reader '{step.reader}' is not on node '{node.id}' ({known})"
                )
            elif step.action == "tap":
                family = node.readers[step.reader].family
                reason = _card_problem(family, step.card) if step.card else "'tap' needs 'card'"
                if reason:
                    problems.append(f"{where}: {reason}")
            continue
        if step.action == "normal":
            if not node.devices:
                problems.append(f"{where}: node '{node.id}' has no Modbus devices")
            continue
        device = node.devices.get(step.device or "")
        if device is None:
            problems.append(f"{where}: device '{step.device}' is not on node '{node.id}'")
        elif step.action in ("set", "pulse") and step.point is None:
            problems.append(f"{where}: '{step.action}' needs 'point'")
        else:
            missing = [p for p in _needed_points(step) if p not in device.points]
            if missing:
                problems.append(
                    f"{where}: device '{device.id}' ({device.profile}) has no point "
                    + ", ".join(f"'{p}'" for p in missing)
                )
            elif step.action == "set" and step.point:
                reason = _value_problem(device.points[step.point], step.value)
                if reason:
                    problems.append(f"{where}: {step.point} {reason}, not {step.value!r}")
            elif step.action in ("pressure", "pressure_decay") and (
                isinstance(step.value, bool) or not isinstance(step.value, int | float)
            ):
                problems.append(f"{where}: '{step.action}' needs a number 'value' in MPa")
    return problems


async def _fault(room: PumpRoom, device: str, fault: Fault | None) -> None:
    room.sim.fault(device, fault)


def _dispatch(room: PumpRoom, step: Step) -> Awaitable[None]:
    device = step.device or ""
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "normal": room.normal,
        "pump_start": lambda: room.pump_start(device, step.cause),
        "pump_stop": lambda: room.pump_stop(device),
        "pump_fail_to_start": lambda: room.pump_fail_to_start(device),
        "pump_manual": lambda: room.pump_mode(device, auto=False),
        "pump_auto": lambda: room.pump_mode(device, auto=True),
        "pressure": lambda: room.pressure(device, float(step.value or 0.0)),
        "pressure_decay": lambda: room.pressure_decay(
            device, float(step.value or 0.0), step.over_s
        ),
        "leak": lambda: room.leak(device, step.zone, True),
        "leak_clear": lambda: room.leak(device, step.zone, False),
        "waterflow": lambda: room.waterflow(device, True),
        "waterflow_clear": lambda: room.waterflow(device, False),
        "valve_close": lambda: room.valve(device, open_=False),
        "valve_open": lambda: room.valve(device, open_=True),
        "set": lambda: room.sim.set(device, step.point or "", step.value or 0),
        "pulse": lambda: room.sim.pulse(device, step.point or "", step.over_s),
        "device_silent": lambda: _fault(room, device, Fault.SILENT),
        "device_garbage": lambda: _fault(room, device, Fault.GARBAGE),
        "device_bad_crc": lambda: _fault(room, device, Fault.BAD_CRC),
        "device_exception": lambda: _fault(room, device, Fault.EXCEPTION),
        "device_ok": lambda: _fault(room, device, None),
    }
    return actions[step.action]()


async def _run_step(sims: SiteSimulator, scenario: Scenario, step: Step) -> None:
    node = step.node or scenario.node
    if step.action == "tap":
        sims.reader(node, step.reader or "").tap(step.card or "")
    elif step.action == "reader_garbage":
        sims.reader(node, step.reader or "").garbage(os.urandom(12))
    else:
        await _dispatch(sims.room(node), step)


async def play(
    scenario: Scenario, sims: SiteSimulator, on_step: Callable[[Step], None] | None = None
) -> None:
    """Run the steps at their times; loops forever if the scenario says so."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        for step in sorted(scenario.steps, key=lambda s: s.at):
            delay = started + step.at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if on_step:
                on_step(step)
            await _run_step(sims, scenario, step)
        if not scenario.loop:
            return
