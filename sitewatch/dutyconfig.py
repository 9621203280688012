"""Duty settings of the site file: the control room's shifts, who is on each, and how often the
equipment status is logged (GB 25201: 24-hour cover, no shift over 8 hours, at least 2 a shift)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from sitewatch.alarmconfig import Ident, _Strict
from sitewatch.patrolconfig import minutes_of

MAX_SHIFT_MIN = 8 * 60
MIN_STAFF = 2
DAY_MIN = 24 * 60


class Shift(_Strict):
    """A shift of the control room; `end` before `start` runs past midnight."""

    name: str = Field(min_length=1, max_length=120)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time HH:MM")
    end: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="local time HH:MM")
    staff: list[str] = Field(default_factory=list, max_length=20, description="the usual roster")

    @property
    def start_min(self) -> int:
        return minutes_of(self.start)

    @property
    def length_min(self) -> int:
        start, end = minutes_of(self.start), minutes_of(self.end)
        return end - start if end > start else DAY_MIN - start + end

    @model_validator(mode="after")
    def _at_most_8_hours(self) -> Self:
        if self.length_min > MAX_SHIFT_MIN:
            hours = self.length_min / 60
            raise ValueError(
                f"shift {self.start}–{self.end} lasts {hours:g} h; GB 25201 allows at most 8 h"
            )
        return self


class Duty(_Strict):
    """The `duty:` section of a site file."""

    status_check_hours: float = Field(
        default=2, gt=0, le=24, description="an equipment status entry is due this often"
    )
    shifts: dict[Ident, Shift] = Field(default_factory=dict)

    def gaps(self) -> list[tuple[str, str]]:
        """Stretches of the day no shift covers, as (from, to) local times."""
        if not self.shifts:
            return []
        covered = [False] * DAY_MIN
        for shift in self.shifts.values():
            for minute in range(shift.start_min, shift.start_min + shift.length_min):
                covered[minute % DAY_MIN] = True
        gaps, start = [], None
        for minute in range(DAY_MIN + 1):
            free = minute < DAY_MIN and not covered[minute]
            if free and start is None:
                start = minute
            elif not free and start is not None:
                gaps.append((_hhmm(start), _hhmm(minute)))
                start = None
        return gaps

    def violations(self) -> list[str]:
        """What breaks GB 25201 but is flagged rather than refused: gaps and thin rosters."""
        found = [
            f"no shift covers {start}–{end} (GB 25201: 24-hour cover)" for start, end in self.gaps()
        ]
        for shift_id, shift in self.shifts.items():
            if len(shift.staff) < MIN_STAFF:
                found.append(
                    f"shift {shift_id} ({shift.name}) has {len(shift.staff)} on its roster; "
                    f"GB 25201 wants at least {MIN_STAFF}"
                )
        return found

    def ordered(self) -> list[str]:
        return sorted(self.shifts, key=lambda s: self.shifts[s].start_min)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
