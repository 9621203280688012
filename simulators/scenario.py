"""Scenario files: timed steps that drive the simulators (`sitewatch sim run SCENARIO.yaml`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulators.pumproom import PumpRoom

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
]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(ge=0, description="seconds from the start of the scenario (or of the loop)")
    action: Action
    device: str | None = None
    cause: Literal["demand", "test", "manual"] = "demand"
    zone: int = Field(default=1, ge=1, le=16)
    value: float | None = None
    over_s: float = Field(default=10.0, gt=0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    node: str
    loop: bool = False
    steps: list[Step] = Field(min_length=1)


def load_scenario(path: str | Path) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _dispatch(room: PumpRoom, step: Step) -> Awaitable[None]:
    device = step.device or ""
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "normal": room.normal,
        "pump_start": lambda: room.pump_start(device, step.cause),
        "pump_stop": lambda: room.pump_stop(device),
        "pump_fail_to_start": lambda: room.pump_fail_to_start(device),
        "pump_manual": lambda: room.pump_mode(device, auto=False),
        "pump_auto": lambda: room.pump_mode(device, auto=True),
        "pressure": lambda: room.pressure(device, step.value or 0.0),
        "pressure_decay": lambda: room.pressure_decay(device, step.value or 0.0, step.over_s),
        "leak": lambda: room.leak(device, step.zone, True),
        "leak_clear": lambda: room.leak(device, step.zone, False),
        "waterflow": lambda: room.waterflow(device, True),
        "waterflow_clear": lambda: room.waterflow(device, False),
        "valve_close": lambda: room.valve(device, open_=False),
        "valve_open": lambda: room.valve(device, open_=True),
    }
    return actions[step.action]()


async def play(
    scenario: Scenario, room: PumpRoom, on_step: Callable[[Step], None] | None = None
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
            await _dispatch(room, step)
        if not scenario.loop:
            return
