"""Request and response bodies of the card API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.gates.tables import CardRecord


class CardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site: str
    card: str
    holder: str
    unit: str | None
    plates: list[str]
    type: str
    status: str
    valid_from: datetime | None
    valid_until: datetime | None
    lanes: list[str] | None
    notes: str | None
    reported_lost_at: datetime | None
    reported_lost_by: str | None
    replaces_id: int | None
    created_at: datetime
    created_by: str


class CardEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event: str
    by: str
    at: datetime
    detail: dict[str, Any] | None


class GateBlock(BaseModel):
    """When a gate had the list that blocks a lost card."""

    node: str
    version: int | None = Field(description="the list version the gate runs now")
    blocked_at: datetime | None = Field(description="when the gate loaded the blocking list")
    after_s: float | None = Field(description="seconds from the loss report to the block")


class CardDetail(CardOut):
    history: list[CardEventOut]
    gates: list[GateBlock] = Field(description="for a lost card: the block at each gate")


class CardEdit(BaseModel):
    """Fields that may change on a card. Dates, type and number are never edited."""

    model_config = ConfigDict(extra="allow")

    holder: str | None = Field(default=None, min_length=1, max_length=120)
    unit: str | None = Field(default=None, max_length=64)
    plates: list[str] | None = Field(default=None, max_length=5)
    lanes: list[str] | None = None
    notes: str | None = Field(default=None, max_length=500)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class ExtendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_until: datetime = Field(description="end of the new pass; site-local if no zone")
    card: str | None = Field(default=None, description="a new card number, if one is handed out")


class ImportRowError(BaseModel):
    line: int
    card: str | None
    message: str


class ImportOut(BaseModel):
    imported: int
    ids: list[int]
    errors: list[ImportRowError]


class GateListOut(BaseModel):
    node: str
    version: int | None
    loaded_at: datetime | None
    count: int | None
    current: bool = Field(description="runs the newest version")


class CardListsOut(BaseModel):
    site: str
    version: int
    gates: list[GateListOut]


def card_out(card: CardRecord) -> CardOut:
    return CardOut.model_validate(card)
