"""The patrol tables: tours (one per scheduled slot or unscheduled walk), their checkpoint visits,
every tap at a checkpoint, and incidents found on patrol."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.models import Base, utcnow


class TourStatus:
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # every checkpoint tapped (some may have been late or out of order)
    INCOMPLETE = "incomplete"  # at least one checkpoint missed
    NOT_STARTED = "not_started"  # a scheduled slot whose start window passed with no tap


class Verdict:
    PENDING = "pending"
    ON_TIME = "on_time"
    EARLY = "early"
    LATE = "late"
    OUT_OF_ORDER = "out_of_order"
    MISSED = "missed"
    NOT_ON_ROUTE = "not_on_route"  # a tap only: a checkpoint the guard's tour does not have
    UNKNOWN_BADGE = "unknown_badge"  # a tap only: no guard carries this card


# What the guard's reader shows: green for a tap that counts, red for one that does not.
ACCEPTED = {Verdict.ON_TIME, Verdict.EARLY, Verdict.LATE}


class PatrolTour(Base):
    """One walk of a route. A scheduled slot has `scheduled_at`; at most one tour per slot."""

    __tablename__ = "patrol_tours"
    __table_args__ = (
        UniqueConstraint("site", "route", "scheduled_at", name="uq_patrol_slot"),
        Index("ix_patrol_tours_status", "site", "status"),
        Index("ix_patrol_tours_started", "site", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(64))
    guard: Mapped[str | None] = mapped_column(String(64))
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    last_tap_at: Mapped[datetime | None]
    lone_alarm: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Two workers may judge two taps of one tour at once: the second to commit retries.
    version: Mapped[int] = mapped_column(default=1)
    visits: Mapped[list[PatrolVisit]] = relationship(
        back_populates="tour", order_by="PatrolVisit.position", cascade="all, delete-orphan"
    )

    __mapper_args__: ClassVar = {"version_id_col": version}


class PatrolVisit(Base):
    """A checkpoint of a tour: when it is expected, its deadline, and what happened."""

    __tablename__ = "patrol_visits"
    __table_args__ = (UniqueConstraint("tour_id", "position", name="uq_patrol_visit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("patrol_tours.id"), index=True)
    position: Mapped[int]
    checkpoint: Mapped[str] = mapped_column(String(64))
    expected_at: Mapped[datetime]
    window_from: Mapped[datetime]
    window_to: Mapped[datetime]
    due_by: Mapped[datetime] = mapped_column(index=True)  # window end + grace: missed after
    tapped_at: Mapped[datetime | None]
    verdict: Mapped[str] = mapped_column(String(16), default=Verdict.PENDING)
    late_s: Mapped[float | None] = mapped_column(Float)  # after the window's end, if late
    tour: Mapped[PatrolTour] = relationship(back_populates="visits")


class PatrolTap(Base):
    """Every badge tapped at a checkpoint reader, with the verdict it got."""

    __tablename__ = "patrol_taps"
    __table_args__ = (Index("ix_patrol_taps_at", "site", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    reader: Mapped[str] = mapped_column(String(64))
    checkpoint: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(64))
    guard: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]  # the edge's read time
    tour_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_tours.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatrolIncident(Base):
    """Something a guard found on patrol (发现重大情况必须立即上报), tied to a checkpoint."""

    __tablename__ = "patrol_incidents"
    __table_args__ = (Index("ix_patrol_incidents_at", "site", "reported_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    tour_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_tours.id"))
    checkpoint: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    major: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(120))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
