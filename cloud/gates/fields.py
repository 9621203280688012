"""What a card record is made of, validated: shared by the API and the CSV import."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sitewatch.wire import CardId, CardType

DATE_FIELDS = frozenset({"valid_from", "valid_until"})
EDITABLE = frozenset({"holder", "unit", "plates", "lanes", "notes"})
# A pass with an end date: renovation workers' 出入证, visitors.
NEEDS_END = {CardType.TEMPORARY, CardType.VISITOR}


class CardFields(BaseModel):
    """A card as issued. Times without a zone are the site's local time."""

    model_config = ConfigDict(extra="forbid")

    card: CardId = Field(description="the number the gate readers report, e.g. 0A00BC614E")
    holder: str = Field(min_length=1, max_length=120)
    unit: str | None = Field(default=None, max_length=64, description="unit / room, e.g. 3-1502")
    plates: list[str] = Field(default_factory=list, max_length=5)
    type: CardType
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    lanes: list[str] | None = Field(default=None, description="only these lanes; none: all")
    notes: str | None = Field(default=None, max_length=500)

    @field_validator("card")
    @classmethod
    def _upper(cls, card: str) -> str:
        return card.upper()

    @field_validator("plates")
    @classmethod
    def _plates(cls, plates: list[str]) -> list[str]:
        cleaned = [plate.strip().upper() for plate in plates if plate.strip()]
        for plate in cleaned:
            if len(plate) > 16:
                raise ValueError(f"plate {plate!r} is longer than 16 characters")
        return cleaned

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.type in NEEDS_END and self.valid_until is None:
            raise ValueError(f"a {self.type.value} pass needs valid_until (its validity window)")
        if (
            self.valid_from
            and self.valid_until
            and _naive(self.valid_from) >= _naive(self.valid_until)
        ):
            raise ValueError("valid_from must be before valid_until")
        return self

    def record_values(self, timezone: str) -> dict[str, Any]:
        values = self.model_dump()
        for name in DATE_FIELDS:
            values[name] = in_zone(values[name], timezone)
        return values


def _naive(moment: datetime) -> datetime:
    return (
        moment.replace(tzinfo=None)
        if moment.tzinfo is None
        else moment.astimezone(UTC).replace(tzinfo=None)
    )


def in_zone(moment: datetime | None, timezone: str) -> datetime | None:
    """An aware UTC time; a naive one is read as the site's local time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def end_of_day(day: datetime) -> datetime:
    """A date given without a time as an end date means through that whole day."""
    return datetime.combine(day.date(), time(23, 59, 59), day.tzinfo)
