"""Request and response bodies of the gate API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import IdField
from cloud.gates.report import Unloading


class PassOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    node: str
    lane: str
    direction: str
    reader: str | None
    card: str | None
    card_type: str | None
    allowed: bool
    reason: str
    violation: bool
    list_version: int | None
    decide_ms: float | None
    relay_confirmed: bool | None
    by: str | None
    note: str | None
    at: datetime
    holder: str | None = Field(default=None, description="from the card record, if known")


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200, description="why the barrier is opened")


class OpenOut(BaseModel):
    lane: str
    node: str
    sent: bool


Purpose = Literal["visit", "unloading", "delivery", "contractor", "other"]


class RegistrationIn(BaseModel):
    """A stranger vehicle registered at the booth (陌生车辆登记)."""

    model_config = ConfigDict(extra="forbid")

    lane: str
    plate: str = Field(min_length=2, max_length=16)
    driver: str | None = Field(default=None, max_length=120)
    purpose: Purpose = "visit"
    notes: str | None = Field(default=None, max_length=500)
    pass_id: IdField | None = Field(default=None, description="the denied read it answers, if any")
    let_through: bool = True


class RegistrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lane: str
    direction: str
    plate: str
    driver: str | None
    purpose: str
    notes: str | None
    pass_id: int | None
    let_through: bool
    by: str
    at: datetime
    sent: bool | None = Field(default=None, description="the open command reached the broker")


class UnloadingOut(BaseModel):
    plate_or_card: str
    entered_at: datetime
    exited_at: datetime | None
    minutes: float
    verdict: str = Field(description="free (≤ free minutes), over_free, charged (past the hour)")

    @classmethod
    def of(cls, item: Unloading) -> UnloadingOut:
        return cls(**item.__dict__)


class LaneOut(BaseModel):
    id: str
    name: str | None
    node: str
    direction: str | None = Field(description="in or out, from the lane's reader")
    anti_passback: str
    timed_min: float | None


class DayReportOut(BaseModel):
    site: str
    site_name: str
    unloading_free_min: float
    unloading_charged_after_min: float
    day: date
    entries: int
    exits: int
    occupancy: dict[str, int] = Field(description="cars inside now, by card type; 'stranger'")
    violations: list[PassOut]
    denied: dict[str, int] = Field(description="denied reads by reason")
    strangers: list[PassOut]
    registrations: list[RegistrationOut]
    emergency: list[PassOut]
    unloading: list[UnloadingOut]
