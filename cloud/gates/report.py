"""The parking day report: entries and exits, who is inside, violations, denials by reason,
strangers, emergency passes, and unloading vehicles against the 30-minute / 1-hour rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.gates.tables import GatePassRecord, VehicleRegistration
from sitewatch.siteconfig import Site

STRANGER = {"unknown", "no_permission"}
OCCUPANCY_LOOKBACK = timedelta(days=30)  # a car not seen for a month is not counted inside


@dataclass
class Unloading:
    plate_or_card: str
    entered_at: datetime
    exited_at: datetime | None
    minutes: float
    verdict: str  # free, over_free, charged


@dataclass
class DayReport:
    site: str
    day: date
    entries: int = 0
    exits: int = 0
    occupancy: dict[str, int] = field(default_factory=dict)  # card type (or stranger) → inside
    violations: list[GatePassRecord] = field(default_factory=list)
    denied: dict[str, int] = field(default_factory=dict)
    strangers: list[GatePassRecord] = field(default_factory=list)
    registrations: list[VehicleRegistration] = field(default_factory=list)
    emergency: list[GatePassRecord] = field(default_factory=list)
    unloading: list[Unloading] = field(default_factory=list)


def day_bounds(site: Site, day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(site.timezone))
    return start, start + timedelta(days=1)


def _occupancy(session: Session, site: Site, now: datetime) -> dict[str, int]:
    last: dict[str, GatePassRecord] = {}
    query = (
        select(GatePassRecord)
        .where(
            GatePassRecord.site == site.id,
            GatePassRecord.allowed.is_(True),
            GatePassRecord.at >= now - OCCUPANCY_LOOKBACK,
            GatePassRecord.card.is_not(None),
        )
        .order_by(GatePassRecord.at)
    )
    for record in session.scalars(query):
        last[record.card or ""] = record
    inside = Counter(r.card_type or "unknown" for r in last.values() if r.direction == "in")
    plates: dict[str, VehicleRegistration] = {}
    registrations = (
        select(VehicleRegistration)
        .where(
            VehicleRegistration.site == site.id,
            VehicleRegistration.let_through.is_(True),
            VehicleRegistration.at >= now - OCCUPANCY_LOOKBACK,
        )
        .order_by(VehicleRegistration.at)
    )
    for registration in session.scalars(registrations):
        plates[registration.plate] = registration
    inside["stranger"] += sum(1 for r in plates.values() if r.direction == "in")
    return {kind: count for kind, count in sorted(inside.items()) if count}


def _unloading(
    session: Session, site: Site, start: datetime, end: datetime, now: datetime
) -> list[Unloading]:
    """Vehicles registered for unloading (卸货), from their entry to their exit by plate."""
    free = site.parking.unloading_free_min
    charged = site.parking.unloading_charged_after_min
    registrations = list(
        session.scalars(
            select(VehicleRegistration)
            .where(
                VehicleRegistration.site == site.id,
                VehicleRegistration.let_through.is_(True),
                VehicleRegistration.at >= start,
                VehicleRegistration.at < end + timedelta(days=1),
            )
            .order_by(VehicleRegistration.at)
        )
    )
    found = []
    for index, entry in enumerate(registrations):
        if entry.direction != "in" or entry.purpose != "unloading" or entry.at >= end:
            continue
        exit_ = next(
            (
                r
                for r in registrations[index + 1 :]
                if r.plate == entry.plate and r.direction == "out"
            ),
            None,
        )
        until = exit_.at if exit_ is not None else now
        minutes = (until - entry.at).total_seconds() / 60
        verdict = "free" if minutes <= free else ("charged" if minutes > charged else "over_free")
        found.append(
            Unloading(
                entry.plate, entry.at, exit_.at if exit_ else None, round(minutes, 1), verdict
            )
        )
    return found


def day_report(session: Session, site: Site, day: date, now: datetime) -> DayReport:
    start, end = day_bounds(site, day)
    report = DayReport(site=site.id, day=day)
    passes = list(
        session.scalars(
            select(GatePassRecord)
            .where(
                GatePassRecord.site == site.id, GatePassRecord.at >= start, GatePassRecord.at < end
            )
            .order_by(GatePassRecord.at)
        )
    )
    denied: Counter[str] = Counter()
    for record in passes:
        if record.allowed:
            if record.direction == "in":
                report.entries += 1
            else:
                report.exits += 1
            if record.reason == "emergency":
                report.emergency.append(record)
        else:
            denied[record.reason] += 1
            if record.reason in STRANGER:
                report.strangers.append(record)
        if record.violation or record.reason == "anti_passback":
            report.violations.append(record)
    report.denied = dict(sorted(denied.items()))
    report.registrations = list(
        session.scalars(
            select(VehicleRegistration)
            .where(
                VehicleRegistration.site == site.id,
                VehicleRegistration.at >= start,
                VehicleRegistration.at < end,
            )
            .order_by(VehicleRegistration.at)
        )
    )
    report.occupancy = _occupancy(session, site, min(now, end))
    report.unloading = _unloading(session, site, start, end, now)
    return report
