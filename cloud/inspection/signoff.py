"""The engineer signs a week's report: the checklist answered, notes, signature; sealed in the
same hash chain as handovers, and never changed. A room whose week goes unsigned past its grace
raises a supervisory alarm in the control room."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.engine import Condition, Source, set_condition
from cloud.inspection.report import compile_week, week_bounds, week_start
from cloud.inspection.tables import SignedInspection
from cloud.records.seal import seal
from cloud.telemetry import TelemetryReader
from cloud.working_set import WorkingSet
from sitewatch.siteconfig import Category, Priority, Site

INSPECTION_NODE = "(inspection)"
OVERDUE = Condition(
    "overdue", Category.SUPERVISORY, Priority.MEDIUM, "Weekly pump-room inspection not signed"
)


class SignRefused(ValueError):
    """The sign-off is incomplete or too early; the message says what is missing."""


def signed(session: Session, site: str, room: str, monday: date) -> SignedInspection | None:
    return session.scalar(
        select(SignedInspection).where(
            SignedInspection.site == site,
            SignedInspection.room == room,
            SignedInspection.week_start == monday,
        )
    )


def sign(
    session: Session,
    site: Site,
    room: str,
    monday: date,
    engineer: str,
    answers: dict[str, dict[str, Any]],
    notes: str | None,
    reader: TelemetryReader,
    now: datetime,
) -> SignedInspection:
    """`answers`: checklist id → {"ok": bool, "note": str|None}; every item must be answered."""
    if room not in site.inspection.rooms:
        raise SignRefused(f"pump room {room!r} is not configured")
    if signed(session, site.id, room, monday) is not None:
        raise SignRefused(f"the week of {monday} is already signed; a signed report never changes")
    start, _ = week_bounds(site, monday)
    if now < start:
        raise SignRefused(f"the week of {monday} has not begun")
    missing = [item for item in site.inspection.checklist if item not in answers]
    if missing:
        raise SignRefused(f"checklist item(s) not answered: {', '.join(missing)}")
    unknown = sorted(set(answers) - set(site.inspection.checklist))
    if unknown:
        raise SignRefused(f"no such checklist item(s): {', '.join(unknown)}")
    checklist = [
        {
            "id": item,
            "text": text,
            "ok": bool(answers[item].get("ok")),
            "note": answers[item].get("note"),
        }
        for item, text in site.inspection.checklist.items()
    ]
    report = compile_week(session, site, room, monday, reader, now)
    body = {
        "report": report,
        "checklist": checklist,
        "notes": notes,
        "engineer": engineer,
        "signed_at": now.isoformat(),
    }
    record = seal(
        session, site.id, "inspection", f"{room}/{monday.isoformat()}", body, engineer, now
    )
    inspection = SignedInspection(
        site=site.id,
        room=room,
        week_start=monday,
        report=report,
        checklist=checklist,
        notes=notes,
        engineer=engineer,
        signed_at=now,
        sealed_id=record.id,
    )
    session.add(inspection)
    session.flush()
    if monday == week_start(site, now) - timedelta(days=7):  # the week the alarm is about
        work = WorkingSet(session, {site.id: site})
        set_condition(work, overdue_source(site, room), OVERDUE, False, None, now)
        work.flush()
    return inspection


def overdue_source(site: Site, room: str) -> Source:
    name = site.inspection.rooms[room].name
    return Source(site.id, INSPECTION_NODE, room, "(week)", name, name)


def tick(session: Session, sites: dict[str, Site], now: datetime) -> None:
    """Raise the overdue alarm of a room whose last full week is unsigned past its grace."""
    work = WorkingSet(session, sites)
    for site in sites.values():
        for room in site.inspection.rooms:
            last_week = week_start(site, now) - timedelta(days=7)
            _, end = week_bounds(site, last_week)
            due = end + timedelta(days=site.inspection.grace_days)
            late = now >= due and signed(session, site.id, room, last_week) is None
            if late:
                value = f"week of {last_week.isoformat()}"
                set_condition(work, overdue_source(site, room), OVERDUE, True, value, due)
    work.flush()
