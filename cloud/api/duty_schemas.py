"""Request and response bodies of the duty API: shifts, the duty log, handovers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import IdField
from cloud.duty.shifts import ShiftInstance


class ShiftOut(BaseModel):
    id: str
    name: str
    date: date
    start: datetime
    end: datetime
    staff: list[str]

    @classmethod
    def of(cls, shift: ShiftInstance, staff: list[str]) -> ShiftOut:
        return cls(
            id=shift.shift,
            name=shift.name,
            date=shift.day,
            start=shift.start,
            end=shift.end,
            staff=staff,
        )


class ShiftsOut(BaseModel):
    status_check_hours: float
    shifts: list[dict[str, Any]] = Field(description="as the site file defines them")
    violations: list[str] = Field(description="gaps in the 24-hour cover, thin rosters")


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: list[str] = Field(max_length=20)


class PendingHandover(BaseModel):
    id: int | None = Field(description="the signed handover waiting for acceptance, if signed")
    outgoing: ShiftOut
    incoming: ShiftOut
    signed: bool


class DutyStatus(BaseModel):
    on_duty: ShiftOut | None
    scheduled: ShiftOut | None
    pending: PendingHandover | None = Field(description="set while the outgoing is not relieved")
    message: str | None = Field(description="what both sides must know now")
    violations: list[str]
    last_status_check: datetime | None
    status_check_due: datetime | None


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        max_length=32,
        description="status_check, panel_check, alarm_handled, phone_call, visitor, other",
    )
    text: str = Field(min_length=1, max_length=4000)
    alarm_id: IdField | None = None
    location: str | None = Field(default=None, max_length=200)
    cause: str | None = Field(default=None, max_length=2000)
    handling: str | None = Field(default=None, max_length=2000)
    # Free-form extras of an entry kind: a few keys, never an unbounded document.
    details: dict[str, Any] | None = Field(default=None, max_length=50)
    corrects_id: IdField | None = Field(default=None, description="the entry this one corrects")


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shift: str
    shift_date: date
    kind: str
    text: str
    author: str
    at: datetime
    alarm_id: int | None
    location: str | None
    cause: str | None
    handling: str | None
    details: dict[str, Any] | None
    corrects_id: int | None
    corrected_by: list[int] = Field(default_factory=list, description="later corrections")


class PromptOut(BaseModel):
    alarm_id: int
    category: str
    text: str
    where: str | None
    location: str | None
    raised_at: datetime | None
    handled: bool = Field(description="acknowledged by an operator, but no log entry yet")


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shift: str | None = Field(default=None, description="default: the shift on duty")
    day: date | None = Field(default=None, description="the local date the shift began")
    signers: list[str] = Field(min_length=1, max_length=20, description="the outgoing staff")
    notes: str | None = Field(default=None, max_length=4000)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: list[str] = Field(max_length=20, description="the incoming staff (at least 2)")
    remarks: str | None = Field(default=None, max_length=4000)


class HandoverOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site: str
    shift: str
    shift_date: date
    incoming_shift: str
    incoming_date: date
    status: str
    notes: str | None
    outgoing: list[dict[str, str]]
    incoming: list[dict[str, str]] | None
    remarks: str | None
    signed_at: datetime
    accepted_at: datetime | None
    sealed_id: int | None


class SealOut(BaseModel):
    seq: int
    hash: str
    prev_hash: str
    sealed_at: datetime
    sealed_by: str


class HandoverDetail(HandoverOut):
    draft: dict[str, Any]
    seal: SealOut | None
