"""Weekly pump-room inspection settings of the site file: which devices of a pump room are fire
pumps, the jockey pump, supply lines, valves and leak sensors, what a good weekly test run is, and
the engineer's checklist (每周检查消防泵、喷淋泵以及供水管线)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sitewatch.alarmconfig import Ident, _Strict

# NFPA 25: a weekly churn test runs an electric pump 10 minutes, a diesel pump 30.
NFPA25_RUN_MIN = {"electric": 10.0, "diesel": 30.0}
GB50974_START_S = 120.0  # automatic start within 2 minutes
MIN_FUEL_PCT = 200 / 3  # a diesel tank kept at least two-thirds full


class Pressure(_Strict):
    """A pressure point with the value it should read, ± `band_pct`."""

    device: Ident
    point: Ident = "pressure"
    baseline: float = Field(gt=0, description="MPa, as measured at commissioning")
    band_pct: float = Field(default=10, gt=0, le=100)


class Pump(_Strict):
    kind: Literal["electric", "diesel"]
    role: Literal["fire", "sprinkler"] = "fire"
    min_run_min: float | None = Field(
        default=None,
        gt=0,
        le=240,
        description="weekly test run at least this long; default NFPA 25 (10 electric, 30 diesel)",
    )
    start_within_s: float = Field(default=GB50974_START_S, gt=0, le=600)
    discharge: Pressure | None = None
    suction: Pressure | None = None
    battery_low_v: float = Field(default=22.0, gt=0, description="diesel: lowest battery volts")

    @property
    def run_min(self) -> float:
        return self.min_run_min if self.min_run_min is not None else NFPA25_RUN_MIN[self.kind]


class Jockey(_Strict):
    device: Ident
    max_starts_per_day: int = Field(default=12, ge=1, le=1000, description="more: a probable leak")


class SupplyLine(_Strict):
    device: Ident
    point: Ident = "pressure"
    low: float = Field(gt=0, description="MPa; time below it is reported")


class Valve(_Strict):
    device: Ident
    point: Ident = "valve_open"
    normal: bool = Field(default=True, description="the point's value in its normal position")


class PumpRoom(_Strict):
    name: str = Field(min_length=1, max_length=120)
    node: Ident
    pumps: dict[Ident, Pump] = Field(default_factory=dict)
    jockey: Jockey | None = None
    supply: list[SupplyLine] = Field(default_factory=list)
    valves: list[Valve] = Field(default_factory=list)
    leaks: list[Ident] = Field(default_factory=list, description="leak modules (zone points)")


class Inspection(_Strict):
    """The `inspection:` section of a site file."""

    grace_days: float = Field(
        default=2, ge=0, le=14, description="after the week, before a missing sign-off alarms"
    )
    checklist: dict[Ident, str] = Field(
        default_factory=dict, description="what the engineer checks that the system cannot see"
    )
    rooms: dict[Ident, PumpRoom] = Field(default_factory=dict)
