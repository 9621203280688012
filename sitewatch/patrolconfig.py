"""Patrol settings of the site file: guards and their badges, checkpoints, routes and schedules.

Checking them against the site's nodes and readers (with line numbers) is `sitewatch.configload`'s
job; this module only says what a well-formed patrol section is.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from sitewatch.alarmconfig import DAYS, Ident, _Strict

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def minutes_of(hhmm: str) -> int:
    """Minutes after local midnight of an 'HH:MM' time ('24:00' is the end of the day)."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return hours * 60 + minutes


class Guard(_Strict):
    """A guard and the badge UIDs they carry; a badge may belong to one guard only."""

    name: str = Field(min_length=1, max_length=120)
    badges: list[str] = Field(
        min_length=1, max_length=10, description="card UIDs as readers report them (hex)"
    )

    @field_validator("badges")
    @classmethod
    def _normalised(cls, badges: list[str]) -> list[str]:
        return [badge.strip().upper() for badge in badges]


class Checkpoint(_Strict):
    """A named place, bound to one checkpoint reader on one node."""

    name: str | None = Field(default=None, max_length=120, description="default: the reader's")
    node: Ident
    reader: Ident


class Stop(_Strict):
    """A checkpoint of a route, expected `walk_min` after the previous one, ± `tolerance_min`."""

    checkpoint: Ident
    walk_min: float = Field(default=5, ge=0, le=240, description="from the previous checkpoint")
    tolerance_min: float = Field(default=3, ge=0, le=120)


class Hours(_Strict):
    """Local hours of the day; `to` may be before `from` for a window across midnight."""

    from_: str = Field(alias="from", pattern=HHMM)
    to: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")

    def contains(self, minute_of_day: int) -> bool:
        start, end = minutes_of(self.from_), minutes_of(self.to)
        if start <= end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end

    @property
    def length_min(self) -> int:
        start, end = minutes_of(self.from_), minutes_of(self.to)
        return end - start if start < end else 24 * 60 - start + end


class RandomStarts(_Strict):
    """不定时巡查: between `min_per_day` and `max_per_day` starts at unannounced times in a window."""

    from_: str = Field(alias="from", pattern=HHMM)
    to: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
    min_per_day: int = Field(ge=1, le=48)
    max_per_day: int = Field(ge=1, le=48)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_per_day > self.max_per_day:
            raise ValueError(
                f"min_per_day ({self.min_per_day}) is above max_per_day ({self.max_per_day})"
            )
        if minutes_of(self.from_) >= minutes_of(self.to):
            raise ValueError("a random window runs from 'from' to a later 'to' on the same day")
        return self

    @property
    def window(self) -> Hours:
        return Hours.model_validate({"from": self.from_, "to": self.to})


class Schedule(_Strict):
    """When a route is due: fixed times (`at`), every N minutes around the clock (`every_min`),
    or at random times (`random`); optionally only on some days and in some hours."""

    at: list[str] | None = Field(default=None, min_length=1, max_length=48)
    every_min: int | None = Field(default=None, ge=10, le=24 * 60)
    random: RandomStarts | None = None
    days: list[Day] = Field(default_factory=lambda: list(DAYS))
    hours: Hours | None = Field(default=None, description="only starts inside these local hours")

    @field_validator("at")
    @classmethod
    def _times(cls, times: list[str] | None) -> list[str] | None:
        for time in times or []:
            if not re.match(HHMM, time):
                raise ValueError(f"start time {time!r} is not a local time HH:MM")
        return sorted(set(times)) if times else times

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in ("at", "every_min", "random") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a schedule has exactly one of 'at' (fixed times), 'every_min' or 'random'"
                + (f"; this one has {' and '.join(kinds)}" if kinds else "")
            )
        if not self.days:
            raise ValueError("'days' is empty: the schedule would never be due")
        return self


class Route(_Strict):
    """An ordered round of checkpoints and when it is walked."""

    name: str = Field(min_length=1, max_length=120)
    stops: list[Stop] = Field(min_length=1, max_length=100)
    schedules: list[Schedule] = Field(default_factory=list)
    start_window_min: float | None = Field(
        default=None, gt=0, le=240, description="default: the patrol section's"
    )
    grace_min: float | None = Field(default=None, ge=0, le=120)
    lone_worker_min: float | None = Field(default=None, gt=0, le=240)


class Patrol(_Strict):
    """The `patrol:` section of a site file."""

    start_window_min: float = Field(
        default=15, gt=0, le=240, description="how long after a scheduled start a tour may begin"
    )
    grace_min: float = Field(
        default=5, ge=0, le=120, description="after a checkpoint's window, before it is missed"
    )
    lone_worker_min: float = Field(
        default=10, gt=0, le=240, description="a guard on tour silent this long raises an alarm"
    )
    guards: dict[Ident, Guard] = Field(default_factory=dict)
    checkpoints: dict[Ident, Checkpoint] = Field(default_factory=dict)
    routes: dict[Ident, Route] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _badges_unique(self) -> Self:
        owners: dict[str, str] = {}
        for guard_id, guard in self.guards.items():
            for badge in guard.badges:
                if badge in owners and owners[badge] != guard_id:
                    raise ValueError(
                        f"badge {badge} is given to both '{owners[badge]}' and '{guard_id}'"
                    )
                owners[badge] = guard_id
        return self

    # -- resolved settings of a route ------------------------------------------------------

    def start_window(self, route: Route) -> float:
        return (
            route.start_window_min if route.start_window_min is not None else self.start_window_min
        )

    def grace(self, route: Route) -> float:
        return route.grace_min if route.grace_min is not None else self.grace_min

    def lone_worker(self, route: Route) -> float:
        return route.lone_worker_min if route.lone_worker_min is not None else self.lone_worker_min

    def guard_of(self, badge: str) -> str | None:
        badge = badge.upper()
        for guard_id, guard in self.guards.items():
            if badge in guard.badges:
                return guard_id
        return None

    def checkpoint_at(self, node: str, reader: str) -> str | None:
        for checkpoint_id, checkpoint in self.checkpoints.items():
            if checkpoint.node == node and checkpoint.reader == reader:
                return checkpoint_id
        return None
