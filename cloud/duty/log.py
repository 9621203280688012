"""Writing the duty log (值班记录), the alarms that still want an entry, and the 2-hour status check.

An entry is stamped with the time, its author and the shift on duty, and is never changed: a
correction is a new entry naming the one it corrects. Every fire alarm and fault prompts an
"alarm handled" entry with its location, cause and handling (GB 25201 §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.alarms.engine import Condition, Source, set_condition
from cloud.duty.shifts import on_duty
from cloud.duty.tables import DutyLogEntry, EntryKind
from cloud.models import AlarmRecord
from cloud.working_set import WorkingSet
from sitewatch.siteconfig import Category, Priority, Site

DUTY_NODE = "(duty)"
PROMPTED = (Category.FIRE.value, Category.TROUBLE.value)
STATUS_OVERDUE = Condition(
    "status_overdue",
    Category.SUPERVISORY,
    Priority.MEDIUM,
    "Equipment status check overdue in the duty log (GB 25201: every 2 hours)",
)


class EntryRefused(ValueError):
    """The entry lacks what its kind needs, or names something that does not exist."""


def status_source(site: Site) -> Source:
    return Source(site.id, DUTY_NODE, "(log)", "status_check", "值班记录 Duty log", None)


def write_entry(
    session: Session,
    site: Site,
    kind: str,
    text: str,
    author: str,
    now: datetime,
    alarm_id: int | None = None,
    location: str | None = None,
    cause: str | None = None,
    handling: str | None = None,
    details: dict[str, Any] | None = None,
    corrects_id: int | None = None,
) -> DutyLogEntry:
    if kind not in EntryKind.ALL:
        raise EntryRefused(f"unknown entry kind {kind!r} (kinds: {', '.join(EntryKind.ALL)})")
    shift, _ = on_duty(session, site, now)
    if shift is None:
        raise EntryRefused("no shifts are configured for this site (duty.shifts in the site file)")
    if kind == EntryKind.ALARM_HANDLED:
        missing = [
            n
            for n, v in (
                ("alarm_id", alarm_id),
                ("location", location),
                ("cause", cause),
                ("handling", handling),
            )
            if not v
        ]
        if missing:
            raise EntryRefused(f"an alarm-handled entry needs {', '.join(missing)} (GB 25201 §5.2)")
        alarm = session.get(AlarmRecord, alarm_id)
        if alarm is None or alarm.site != site.id:
            raise EntryRefused(f"alarm {alarm_id} does not exist in site {site.id!r}")
    if corrects_id is not None:
        corrected = session.get(DutyLogEntry, corrects_id)
        if corrected is None or corrected.site != site.id:
            raise EntryRefused(f"entry {corrects_id} to correct does not exist in site {site.id!r}")
    entry = DutyLogEntry(
        site=site.id,
        shift=shift.shift,
        shift_date=shift.day,
        kind=kind,
        text=text,
        author=author,
        at=now,
        alarm_id=alarm_id,
        location=location,
        cause=cause,
        handling=handling,
        details=details,
        corrects_id=corrects_id,
    )
    session.add(entry)
    session.flush()
    if kind == EntryKind.STATUS_CHECK:
        work = WorkingSet(session, {site.id: site})
        set_condition(work, status_source(site), STATUS_OVERDUE, False, None, now)
        work.flush()
    return entry


@dataclass(frozen=True)
class Prompt:
    """A fire alarm or fault with no alarm-handled entry since it was raised."""

    alarm: AlarmRecord
    handled: bool  # acknowledged by an operator


def prompts(session: Session, site: Site, since: datetime) -> list[Prompt]:
    last_entry = (
        select(DutyLogEntry.alarm_id, func.max(DutyLogEntry.at).label("at"))
        .where(DutyLogEntry.site == site.id, DutyLogEntry.kind == EntryKind.ALARM_HANDLED)
        .group_by(DutyLogEntry.alarm_id)
        .subquery()
    )
    query = (
        select(AlarmRecord, last_entry.c.at)
        .outerjoin(last_entry, last_entry.c.alarm_id == AlarmRecord.id)
        .where(
            AlarmRecord.site == site.id,
            AlarmRecord.category.in_(PROMPTED),
            AlarmRecord.raised_at >= since,
        )
        .order_by(AlarmRecord.raised_at)
    )
    found = []
    for alarm, entry_at in session.execute(query):
        if entry_at is None or entry_at < alarm.raised_at:
            found.append(
                Prompt(alarm, alarm.acked_at is not None and alarm.acked_at >= alarm.raised_at)
            )
    return found


def last_status_check(session: Session, site: Site) -> datetime | None:
    return session.scalar(
        select(func.max(DutyLogEntry.at)).where(
            DutyLogEntry.site == site.id, DutyLogEntry.kind == EntryKind.STATUS_CHECK
        )
    )


def tick(session: Session, sites: dict[str, Site], now: datetime, since: datetime) -> None:
    """Raise the overdue alarm when no status entry came for `status_check_hours`; `since`: when
    this cloud began watching (an install with no entries yet is due from then)."""
    work = WorkingSet(session, sites)
    for site in sites.values():
        if not site.duty.shifts:
            continue
        last = last_status_check(session, site)
        due = (last or since) + timedelta(hours=site.duty.status_check_hours)
        if now >= due:
            local = last.astimezone(ZoneInfo(site.timezone)).strftime("%H:%M") if last else "never"
            set_condition(work, status_source(site), STATUS_OVERDUE, True, f"last: {local}", due)
    work.flush()
