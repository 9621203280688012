"""Alarm settings of the site file and device profiles: rules, site overrides, suppression windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Delay = Annotated[float, Field(default=0.0, ge=0, le=3600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(StrEnum):
    """NFPA 72 signal categories."""

    FIRE = "fire"
    SUPERVISORY = "supervisory"
    TROUBLE = "trouble"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlarmRule(_Strict):
    """When a point is abnormal: a digital/state value (`when`), analog limits, or a rate of
    change; with optional delays so a brief excursion raises nothing and a brief dip clears nothing."""

    when: bool | int | str | None = None
    low: float | None = None
    high: float | None = None
    deadband: float = Field(default=0.0, ge=0)
    rate_per_min: float | None = Field(
        default=None, gt=0, description="alarm when the value moves faster than this per minute"
    )
    on_delay_s: Delay = 0.0
    off_delay_s: Delay = 0.0
    category: Category
    priority: Priority = Priority.HIGH
    text: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_kind_of_condition(self) -> Self:
        analog = self.low is not None or self.high is not None or self.rate_per_min is not None
        if self.when is None and not analog:
            raise ValueError(
                "an alarm needs 'when' (digital), or 'low'/'high' limits or 'rate_per_min' (analog)"
            )
        if self.when is not None and analog:
            raise ValueError("an alarm has either 'when' or analog limits and rates, not both")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        return self


class AlarmOverride(_Strict):
    """Site-specific changes to a profile's alarm for one point; unset fields keep the profile's."""

    when: bool | int | str | None = None
    low: float | None = None
    high: float | None = None
    deadband: float | None = Field(default=None, ge=0)
    rate_per_min: float | None = Field(default=None, gt=0)
    on_delay_s: float | None = Field(default=None, ge=0, le=3600)
    off_delay_s: float | None = Field(default=None, ge=0, le=3600)
    category: Category | None = None
    priority: Priority | None = None
    text: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool = True


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WeeklyWindow(_Strict):
    """Once a week, at a local time of the site, for some minutes."""

    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time, HH:MM")
    minutes: int = Field(ge=1, le=24 * 60)

    def contains(self, moment: datetime, timezone: str) -> bool:
        local = moment.astimezone(ZoneInfo(timezone))
        hour, minute = (int(part) for part in self.at.split(":"))
        # This week's window, and last week's in case it runs past midnight into today.
        start_day = local.date() - timedelta(days=(local.weekday() - DAYS.index(self.day)) % 7)
        for days_back in (0, 7):
            start = datetime(
                start_day.year, start_day.month, start_day.day, hour, minute, tzinfo=local.tzinfo
            ) - timedelta(days=days_back)
            if start <= local < start + timedelta(minutes=self.minutes):
                return True
        return False


class Suppression(_Strict):
    """Suppression by design: a device's alarms are expected, and held back, in a window, e.g. a
    fire pump running during its scheduled weekly test (每周自动巡检)."""

    name: str = Field(min_length=1, max_length=120)
    node: Ident
    device: Ident
    points: list[Ident] | None = Field(default=None, description="default: every point")
    weekly: list[WeeklyWindow] = Field(min_length=1)

    def covers(self, node: str, device: str, point: str) -> bool:
        return (
            node == self.node
            and device == self.device
            and (self.points is None or point in self.points)
        )

    def active(self, moment: datetime, timezone: str) -> bool:
        return any(window.contains(moment, timezone) for window in self.weekly)
