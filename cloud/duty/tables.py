"""The duty tables: log entries (append-only), rosters, and handovers between shifts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, utcnow


class EntryKind:
    STATUS_CHECK = "status_check"  # equipment status, due every 2 hours
    PANEL_CHECK = "panel_check"  # the fire panel's daily check
    ALARM_HANDLED = "alarm_handled"  # linked to the alarm: location, cause, handling
    PHONE_CALL = "phone_call"
    VISITOR = "visitor"
    OTHER = "other"

    ALL = (STATUS_CHECK, PANEL_CHECK, ALARM_HANDLED, PHONE_CALL, VISITOR, OTHER)


class DutyLogEntry(Base):
    """A line of the duty log (值班记录). Never edited or deleted (the database refuses it): a
    correction is a new entry that names the one it corrects."""

    __tablename__ = "duty_log"
    __table_args__ = (Index("ix_duty_log_at", "site", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    shift: Mapped[str] = mapped_column(String(64))
    shift_date: Mapped[date] = mapped_column(Date)  # the local date the shift began
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    cause: Mapped[str | None] = mapped_column(Text)
    handling: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("duty_log.id"))


class RosterEntry(Base):
    """Who is on one shift on one day, when it differs from the site file's usual staff."""

    __tablename__ = "duty_rosters"
    __table_args__ = (UniqueConstraint("site", "shift", "shift_date", name="uq_duty_roster"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    shift: Mapped[str] = mapped_column(String(64))
    shift_date: Mapped[date] = mapped_column(Date)
    staff: Mapped[list[str]] = mapped_column(JSON)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class HandoverStatus:
    SIGNED = "signed"  # the outgoing staff signed; not yet relieved
    ACCEPTED = "accepted"  # the incoming staff accepted: sealed, the outgoing shift relieved


class Handover(Base):
    """The handover of one shift to the next (交接班): the draft as the outgoing staff signed it,
    and the incoming staff's acceptance. Once accepted it is sealed (`sealed_id`)."""

    __tablename__ = "duty_handovers"
    __table_args__ = (UniqueConstraint("site", "shift", "shift_date", name="uq_duty_handover"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    shift: Mapped[str] = mapped_column(String(64))
    shift_date: Mapped[date] = mapped_column(Date)
    incoming_shift: Mapped[str] = mapped_column(String(64))
    incoming_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    outgoing: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{name, at}]
    incoming: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    remarks: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    sealed_id: Mapped[int | None] = mapped_column(ForeignKey("sealed_records.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__: ClassVar = {"version_id_col": version}
