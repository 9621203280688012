"""Request and response models of the alarm API: alarms, their history, actions and KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import IdField


class Tagged(BaseModel):
    """Who took the equipment out of service, and why (挂警示标识)."""

    by: str
    reason: str
    at: datetime


class Comment(BaseModel):
    by: str
    note: str
    at: datetime


class AlarmOut(BaseModel):
    id: int
    site: str
    node: str
    device: str
    device_name: str | None
    point: str
    condition: str
    category: str
    priority: str
    text: str
    area: str | None = Field(description="where the equipment is (the device's location)")
    state: str
    active: bool = Field(description="the condition is present now")
    latched: bool = Field(description="a fire alarm held until an operator resets it")
    value: Any
    raised_at: datetime | None
    cleared_at: datetime | None
    changed_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    shelved_until: datetime | None
    shelved_by: str | None
    shelve_reason: str | None
    out_of_service: Tagged | None
    last_comment: Comment | None


class HistoryLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    event: str
    state: str
    value: Any
    by: str | None
    note: str | None


class RecentValue(BaseModel):
    ts: datetime
    value: Any
    quality: str


class AlarmDetail(BaseModel):
    alarm: AlarmOut
    history: list[HistoryLine]
    recent_values: list[RecentValue]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=500)


class ShelveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    minutes: int = Field(ge=1, description="how long; at most SITEWATCH_MAX_SHELVE_MINUTES")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class AcknowledgeManyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[IdField] = Field(min_length=1, max_length=1000)
    note: str | None = Field(default=None, max_length=500)


class Refused(BaseModel):
    id: int
    detail: str


class AcknowledgedMany(BaseModel):
    acknowledged: list[int]
    refused: list[Refused]


class ChatteringOut(BaseModel):
    node: str
    device: str
    point: str
    activations: int


class StaleOut(BaseModel):
    id: int
    text: str
    raised_at: datetime


class KpisOut(BaseModel):
    site: str
    last_10_min: int = Field(description="annunciated alarms in the last 10 minutes")
    flood: bool = Field(description="10 or more in 10 minutes (EEMUA 191)")
    chattering: list[ChatteringOut] = Field(description="3 or more activations within 60 s")
    stale: list[StaleOut] = Field(description="active for 24 hours or more")
