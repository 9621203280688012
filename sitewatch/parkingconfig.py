"""Parking settings of the site file: the gate lanes, the relay that opens each barrier, and the
anti-passback rule (per site, or per lane)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from sitewatch.alarmconfig import Ident, _Strict


class AntiPassbackMode(StrEnum):
    OFF = "off"
    HARD = "hard"  # a card that is in cannot enter again before it has exited: denied
    SOFT = "soft"  # let through, but the violation is recorded
    TIMED = "timed"  # denied until `timed_min` after its last pass in that direction


class AntiPassback(_Strict):
    mode: AntiPassbackMode = AntiPassbackMode.HARD
    timed_min: float = Field(default=10, gt=0, le=24 * 60, description="for mode 'timed'")


class Relay(_Strict):
    """The coil that opens a barrier: a point of a device on the gate's node."""

    device: Ident
    point: Ident
    pulse_s: float = Field(default=3, gt=0, le=60, description="how long the relay is held closed")


class Lane(_Strict):
    """A gate lane: its node, its relay, and optionally its own anti-passback rule."""

    name: str | None = Field(default=None, max_length=120)
    node: Ident
    relay: Relay
    anti_passback: AntiPassback | None = Field(default=None, description="default: the site's")


class Parking(_Strict):
    """The `parking:` section of a site file."""

    anti_passback: AntiPassback = Field(default_factory=AntiPassback)
    unloading_free_min: float = Field(default=30, ge=0, le=24 * 60)
    unloading_charged_after_min: float = Field(default=60, ge=0, le=24 * 60)
    lanes: dict[Ident, Lane] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unloading_order(self) -> Self:
        if self.unloading_charged_after_min < self.unloading_free_min:
            raise ValueError(
                f"unloading_charged_after_min ({self.unloading_charged_after_min:g}) is shorter "
                f"than unloading_free_min ({self.unloading_free_min:g})"
            )
        return self

    def rule(self, lane: str) -> AntiPassback:
        found = self.lanes.get(lane)
        return found.anti_passback if found and found.anti_passback else self.anti_passback

    def lanes_of(self, node: str) -> dict[str, Lane]:
        return {lane_id: lane for lane_id, lane in self.lanes.items() if lane.node == node}
