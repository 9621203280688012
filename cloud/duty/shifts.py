"""Shift instances in time, who is on them, and which shift is on duty now.

A shift instance is a shift of the site file on one local date (the date it begins). The shift on
duty is the scheduled one, unless the one before it has not been relieved: 接班人员未上岗，不准下岗,
so an outgoing shift stays on duty until its handover is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.duty.tables import DutyLogEntry, Handover, HandoverStatus, RosterEntry
from sitewatch.siteconfig import Site

# How many shifts back an unrelieved shift is still looked for: a day of 8-hour shifts.
MAX_UNRELIEVED = 3


@dataclass(frozen=True)
class ShiftInstance:
    shift: str
    day: date
    name: str
    start: datetime  # UTC
    end: datetime

    @property
    def key(self) -> tuple[str, date]:
        return self.shift, self.day

    def label(self) -> str:
        return f"{self.name} {self.day.isoformat()}"


def instance(site: Site, shift_id: str, day: date) -> ShiftInstance:
    shift = site.duty.shifts[shift_id]
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(site.timezone))
    start = (local + timedelta(minutes=shift.start_min)).astimezone(UTC)
    return ShiftInstance(
        shift_id, day, shift.name, start, start + timedelta(minutes=shift.length_min)
    )


def local_date(site: Site, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(site.timezone)).date()


def _around(site: Site, moment: datetime) -> list[ShiftInstance]:
    """Every shift instance of the local days around `moment`, in start order."""
    today = moment.astimezone(ZoneInfo(site.timezone)).date()
    found = [
        instance(site, shift_id, today + timedelta(days=offset))
        for offset in (-2, -1, 0, 1)
        for shift_id in site.duty.shifts
    ]
    return sorted(found, key=lambda i: i.start)


def scheduled(site: Site, moment: datetime) -> ShiftInstance | None:
    """The shift the timetable puts on duty at `moment` (the latest to have begun, if several)."""
    current = [i for i in _around(site, moment) if i.start <= moment < i.end]
    return current[-1] if current else None


def previous(site: Site, shift: ShiftInstance) -> ShiftInstance:
    before = [i for i in _around(site, shift.start) if i.start < shift.start]
    return before[-1]


def following(site: Site, shift: ShiftInstance) -> ShiftInstance:
    after = [i for i in _around(site, shift.start) if i.start > shift.start]
    return after[0]


def handover_of(session: Session, site: Site, shift: ShiftInstance) -> Handover | None:
    return session.scalar(
        select(Handover).where(
            Handover.site == site.id,
            Handover.shift == shift.shift,
            Handover.shift_date == shift.day,
        )
    )


def _was_staffed(session: Session, site: Site, shift: ShiftInstance) -> bool:
    """A shift that wrote in the log or signed a handover was on post; one before the duty log
    was ever used (a new install) was not, and is not waited for."""
    entry = session.scalar(
        select(DutyLogEntry.id)
        .where(
            DutyLogEntry.site == site.id,
            DutyLogEntry.shift == shift.shift,
            DutyLogEntry.shift_date == shift.day,
        )
        .limit(1)
    )
    return entry is not None or handover_of(session, site, shift) is not None


def on_duty(
    session: Session, site: Site, now: datetime
) -> tuple[ShiftInstance | None, ShiftInstance | None]:
    """(the shift on duty, the shift the timetable wants): the same unless a handover is pending."""
    wanted = scheduled(site, now)
    if wanted is None:
        return None, None
    on, current = wanted, wanted
    for _ in range(MAX_UNRELIEVED):
        before = previous(site, current)
        handover = handover_of(session, site, before)
        if handover is not None and handover.status == HandoverStatus.ACCEPTED:
            break
        if not _was_staffed(session, site, before):
            break
        on = current = before
    return on, wanted


def staff_of(session: Session, site: Site, shift: ShiftInstance) -> list[str]:
    """The roster of one shift instance: a roster set for that day, else the site file's."""
    roster = session.scalar(
        select(RosterEntry).where(
            RosterEntry.site == site.id,
            RosterEntry.shift == shift.shift,
            RosterEntry.shift_date == shift.day,
        )
    )
    return list(roster.staff) if roster is not None else list(site.duty.shifts[shift.shift].staff)
