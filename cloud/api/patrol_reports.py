"""Patrol reports: were the rounds walked, per route, guard, day or week, over site-local dates.

Definitions (the operator guide says the same):
- A tour is counted once it has ended: completed, incomplete (a checkpoint missed), or a
  scheduled slot not started. Tours still in progress are left out until they end.
- due: scheduled slots counted (started or not); tours: every tour counted, scheduled or not.
- walked: completed tours (every checkpoint tapped, even if late or out of order).
- completion rate: walked / tours; null when there are no tours.
- Checkpoints are counted by verdict over the tours counted (a tour not started has none).
- Average lateness: the mean, in minutes after the window's end, of the late checkpoints.
A tour belongs to the day it started (a slot nobody started: the day it was due).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cloud.api.patrol_schemas import MissedCheckpoint, Report, ReportRow
from cloud.api.patrol_views import (
    TourFilter,
    checkpoint_name,
    find_tours,
    guard_name,
    local_date,
    local_day,
    route_name,
)
from cloud.patrol.tables import PatrolTour, TourStatus, Verdict
from sitewatch.siteconfig import Site

By = Literal["route", "guard", "day", "week"]
NO_GUARD = "无人 Nobody (not started)"


@dataclass
class _Tally:
    """The counts of one row as tours are added to it."""

    tours: int = 0
    due: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    late_s: float = 0.0

    def add(self, tour: PatrolTour) -> None:
        self.tours += 1
        self.due += tour.scheduled_at is not None
        self.statuses[tour.status] += 1
        for visit in tour.visits:
            self.verdicts[visit.verdict] += 1
            if visit.verdict == Verdict.LATE:
                self.late_s += visit.late_s or 0.0

    def row(self, key: str, label: str) -> ReportRow:
        walked, late = self.statuses[TourStatus.COMPLETED], self.verdicts[Verdict.LATE]
        return ReportRow(
            key=key,
            label=label,
            due=self.due,
            tours=self.tours,
            walked=walked,
            not_started=self.statuses[TourStatus.NOT_STARTED],
            incomplete=self.statuses[TourStatus.INCOMPLETE],
            completion_rate=round(walked / self.tours, 4) if self.tours else None,
            on_time=self.verdicts[Verdict.ON_TIME],
            early=self.verdicts[Verdict.EARLY],
            late=late,
            out_of_order=self.verdicts[Verdict.OUT_OF_ORDER],
            missed=self.verdicts[Verdict.MISSED],
            avg_late_min=round(self.late_s / late / 60, 2) if late else None,
        )


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _tour_day(site: Site, tour: PatrolTour) -> date:
    when = tour.started_at or tour.scheduled_at
    assert when is not None  # a tour is either started or a slot
    return local_date(site, when)


def _groups(site: Site, by: By, first: date, last: date) -> dict[str, str]:
    """Every row the report shows even when empty: a route or a day with no tour is news."""
    if by == "route":
        return {route_id: route.name for route_id, route in site.patrol.routes.items()}
    if by == "guard":
        return {guard_id: guard.name for guard_id, guard in site.patrol.guards.items()}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if by == "day":
        return {d.isoformat(): d.isoformat() for d in days}
    mondays = {d - timedelta(days=d.weekday()) for d in days}
    return {_week(m): f"{_week(m)} ({m.isoformat()} 起 from)" for m in sorted(mondays)}


def _key(site: Site, by: By, tour: PatrolTour) -> tuple[str, str]:
    if by == "route":
        return tour.route, route_name(site, tour.route)
    if by == "guard":
        return tour.guard or "", guard_name(site, tour.guard) or NO_GUARD
    day = _tour_day(site, tour)
    return (day.isoformat(), day.isoformat()) if by == "day" else (_week(day), _week(day))


def report(session: Session, site: Site, first: date, last: date, by: By) -> Report:
    begin, _ = local_day(site, first)
    _, end = local_day(site, last)
    tours = [
        t
        for t in find_tours(session, TourFilter(site.id, begin=begin, end=end))
        if t.status != TourStatus.IN_PROGRESS
    ]
    labels = _groups(site, by, first, last)
    tallies = {key: _Tally() for key in labels}
    total = _Tally()
    missed: list[MissedCheckpoint] = []
    for tour in tours:
        key, label = _key(site, by, tour)
        labels.setdefault(key, label)
        tallies.setdefault(key, _Tally()).add(tour)
        total.add(tour)
        missed += [
            MissedCheckpoint(
                tour_id=tour.id,
                route=tour.route,
                route_name=route_name(site, tour.route),
                checkpoint=v.checkpoint,
                checkpoint_name=checkpoint_name(site, v.checkpoint),
                due_by=v.due_by,
                guard=tour.guard,
                guard_name=guard_name(site, tour.guard),
            )
            for v in tour.visits
            if v.verdict == Verdict.MISSED
        ]
    return Report(
        site=site.id,
        site_name=site.name,
        date_from=first,
        date_to=last,
        by=by,
        rows=[tallies[key].row(key, labels[key]) for key in tallies],
        total=total.row("", "合计 Total"),
        missed=sorted(missed, key=lambda m: (m.due_by, m.tour_id)),
    )


# -- CSV --------------------------------------------------------------------------------------

ROW_COLUMNS = [
    ("key", "编号 Key"),
    ("label", "名称 Name"),
    ("due", "应巡 Due"),
    ("tours", "巡逻次数 Tours"),
    ("walked", "完成 Walked"),
    ("not_started", "未开始 Not started"),
    ("incomplete", "未完成 Incomplete"),
    ("completion_rate", "完成率 Completion rate (%)"),
    ("on_time", "准时 On time"),
    ("early", "提前 Early"),
    ("late", "迟到 Late"),
    ("out_of_order", "顺序错误 Out of order"),
    ("missed", "漏检 Missed"),
    ("avg_late_min", "平均迟到(分钟) Avg lateness (min)"),
]
MISSED_HEADER = [
    "巡逻编号 Tour",
    "路线 Route",
    "巡更点 Checkpoint",
    "截止时间 Deadline",
    "保安 Guard",
]
# Excel reads a CSV as the machine's ANSI code page unless it starts with a UTF-8 byte-order mark.
BOM = "\ufeff"


def _cell(row: ReportRow, name: str) -> object:
    value = getattr(row, name)
    if name == "completion_rate":
        return "" if value is None else round(value * 100, 1)
    return "" if value is None else value


def to_csv(site: Site, found: Report, table: Literal["rows", "missed"] = "rows") -> str:
    """The report's rows (and a total line), or its missed checkpoints, as CSV for Excel; times
    in the site's local time."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    if table == "rows":
        writer.writerow([header for _, header in ROW_COLUMNS])
        for row in [*found.rows, found.total]:
            writer.writerow([_cell(row, name) for name, _ in ROW_COLUMNS])
    else:
        writer.writerow(MISSED_HEADER)
        zone = ZoneInfo(site.timezone)
        for m in found.missed:
            deadline = m.due_by.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            writer.writerow(
                [m.tour_id, m.route_name, m.checkpoint_name, deadline, m.guard_name or ""]
            )
    return out.getvalue()


def filename(found: Report, table: str) -> str:
    part = "" if table == "rows" else "-missed"
    return f"patrol-{found.site}-{found.date_from}-{found.date_to}-{found.by}{part}.csv"
