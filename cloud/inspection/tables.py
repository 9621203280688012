"""Signed weekly inspections: the report as compiled when the engineer signed it (up to then, if
signed during the week), the checklist answers, the notes and the signature. Written once, with
its seal; the database refuses changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base


class SignedInspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("site", "room", "week_start", name="uq_inspection_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    room: Mapped[str] = mapped_column(String(64))
    week_start: Mapped[date] = mapped_column(Date)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{id, text, ok, note}]
    notes: Mapped[str | None] = mapped_column(Text)
    engineer: Mapped[str] = mapped_column(String(120))
    signed_at: Mapped[datetime]
    sealed_id: Mapped[int] = mapped_column(ForeignKey("sealed_records.id"))
