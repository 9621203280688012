"""Request and response models of the patrol API: the site file's patrol section, the live board,
tours with their visits and taps, the 24-hour timeline, reports and incidents.

The compute modules (`cloud.api.patrol_board`, `cloud.api.patrol_reports`) build these models directly,
so each shape is defined once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import IdField
from cloud.patrol.incidents import IncidentCategory
from sitewatch.patrolconfig import Schedule

# What became of a tour or a slot, as the timeline and the board colour it.
Outcome = Literal["walked", "late", "missed", "not_started", "in_progress", "due"]


class StopOut(BaseModel):
    position: int = Field(description="0 is the route's first checkpoint")
    checkpoint: str
    name: str
    location: str | None = Field(description="where the reader is")
    walk_min: float = Field(description="expected walk from the previous checkpoint")
    tolerance_min: float = Field(description="± around the expected time")


class RouteOut(BaseModel):
    id: str
    name: str
    stops: list[StopOut]
    schedules: list[Schedule] = Field(description="as configured in the site file")
    start_window_min: float = Field(description="a scheduled tour may begin ± this long")
    grace_min: float = Field(description="after a checkpoint's window, before it is missed")
    lone_worker_min: float = Field(description="a guard on tour silent this long raises an alarm")
    next_starts: list[datetime] = Field(description="the next 3 scheduled starts (UTC)")


class GuardOut(BaseModel):
    id: str
    name: str
    badges: list[str] = Field(
        description="card UIDs (hex): the control room matches an unknown-badge alarm against "
        "them to tell a stranger's card from a guard's second, lost or lent one"
    )
    on_tour: int | None = Field(description="the tour the guard is walking now, if any")


class CheckpointOut(BaseModel):
    id: str
    name: str
    node: str
    reader: str
    location: str | None
    routes: list[str] = Field(description="routes with this checkpoint as a stop")


class TourOut(BaseModel):
    """A tour in a list: who walked which route when, and how it went."""

    id: int
    site: str
    route: str
    route_name: str
    guard: str | None
    guard_name: str | None
    scheduled_at: datetime | None = Field(description="the slot; null for an unscheduled tour")
    started_at: datetime | None
    ended_at: datetime | None
    status: str = Field(description="in_progress, completed, incomplete or not_started")
    outcome: Outcome
    checkpoints: int
    on_time: int
    early: int
    late: int
    out_of_order: int
    missed: int


class TourPage(BaseModel):
    total: int = Field(description="tours matching the filters, before limit and offset")
    tours: list[TourOut]


class VisitOut(BaseModel):
    position: int
    checkpoint: str
    name: str
    expected_at: datetime
    window_from: datetime
    window_to: datetime
    due_by: datetime = Field(description="window end plus grace: missed after this")
    tapped_at: datetime | None
    verdict: str = Field(description="pending, on_time, early, late, out_of_order or missed")
    late_min: float | None = Field(description="minutes after the window's end, if late")


class TapOut(BaseModel):
    id: int
    at: datetime = Field(description="the reader's read time")
    checkpoint: str
    checkpoint_name: str
    node: str
    reader: str
    card: str
    guard: str | None
    guard_name: str | None
    tour_id: int | None
    verdict: str = Field(
        description="on_time, early, late, out_of_order, repeat, not_on_route or unknown_badge"
    )


class IncidentOut(BaseModel):
    id: int
    site: str
    tour_id: int | None
    checkpoint: str
    checkpoint_name: str
    category: str
    major: bool = Field(description="major incidents raise an alarm in the control room")
    notes: str
    reported_by: str
    reported_at: datetime
    alarm_id: int | None


class TourDetail(BaseModel):
    tour: TourOut
    visits: list[VisitOut]
    taps: list[TapOut]
    incidents: list[IncidentOut]


class LiveTour(BaseModel):
    """A tour in progress: where the guard is and where they should be next."""

    tour: TourOut
    last_checkpoint: str | None
    last_checkpoint_name: str | None
    last_tap_at: datetime | None
    next_checkpoint: str | None
    next_checkpoint_name: str | None
    next_expected_at: datetime | None
    next_window_to: datetime | None
    next_due_by: datetime | None = Field(description="missed if not tapped by then")
    lone_worker: bool = Field(description="the guard has been silent too long: alarm raised")


class Slot(BaseModel):
    at: datetime = Field(description="the scheduled start")
    window_from: datetime
    window_to: datetime
    open: bool = Field(description="the start window is open now: a tap starts this slot")


class NextDue(BaseModel):
    route: str
    route_name: str
    slots: list[Slot] = Field(description="the next slots no tour has taken yet")


class Board(BaseModel):
    site: str
    site_name: str
    now: datetime
    day: date = Field(description="today in the site's time zone")
    in_progress: list[LiveTour]
    next_due: list[NextDue]
    attention: list[TourOut] = Field(
        description="today's tours late (a late or out-of-order checkpoint), with a missed "
        "checkpoint, or not started"
    )


class Bar(BaseModel):
    tour_id: int | None = Field(description="null for a slot still to come")
    scheduled: bool
    start: datetime
    end: datetime
    outcome: Outcome
    guard: str | None
    guard_name: str | None


class RouteTimeline(BaseModel):
    route: str
    route_name: str
    bars: list[Bar]


class Timeline(BaseModel):
    site: str
    date: date
    day_start: datetime
    day_end: datetime
    now: datetime
    routes: list[RouteTimeline]


class MissedCheckpoint(BaseModel):
    tour_id: int
    route: str
    route_name: str
    checkpoint: str
    checkpoint_name: str
    due_by: datetime
    guard: str | None
    guard_name: str | None


class ReportRow(BaseModel):
    key: str = Field(description="route id, guard id, date or ISO week ('' for no guard)")
    label: str
    due: int = Field(description="scheduled slots, including those not started")
    tours: int = Field(description="tours counted: scheduled and unscheduled, ended")
    walked: int = Field(description="completed tours: every checkpoint tapped")
    not_started: int
    incomplete: int
    completion_rate: float | None = Field(description="walked / tours; null when no tours")
    on_time: int
    early: int
    late: int
    out_of_order: int
    missed: int
    avg_late_min: float | None = Field(description="average lateness of late checkpoints")


class Report(BaseModel):
    site: str
    site_name: str
    date_from: date
    date_to: date
    by: Literal["route", "guard", "day", "week"]
    rows: list[ReportRow]
    total: ReportRow
    missed: list[MissedCheckpoint]


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(min_length=1, max_length=64, description="where it was found")
    category: IncidentCategory
    notes: str = Field(min_length=1, max_length=2000)
    tour_id: IdField | None = Field(default=None, description="the tour it was found on, if any")
    major: bool | None = Field(
        default=None,
        description="raise an alarm; default: yes for leak, suspicious_person and fire_hazard",
    )
