"""The handover draft of a shift: what happened on it and what the next shift takes over.

Alarms raised and handled on the shift, alarms still open with their handling so far, equipment
out of service, patrol results, gate anomalies, overdue status checks, and the shift's log. The
draft is plain JSON: what the outgoing staff sign is exactly what is stored and sealed.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.states import AlarmState
from cloud.duty.shifts import ShiftInstance, staff_of
from cloud.duty.tables import DutyLogEntry, EntryKind
from cloud.gates.tables import GatePassRecord
from cloud.models import AlarmEventRecord, AlarmRecord, EquipmentTag
from cloud.patrol.tables import PatrolTour, PatrolVisit, TourStatus, Verdict
from sitewatch.siteconfig import Site


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _alarm(alarm: AlarmRecord) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "category": alarm.category,
        "priority": alarm.priority,
        "text": alarm.text,
        "where": alarm.device_name or alarm.device,
        "location": alarm.location,
        "state": alarm.state,
        "raised_at": _iso(alarm.raised_at),
    }


def _handling(session: Session, alarm_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Operators' actions on these alarms: who acknowledged, commented, shelved, reset."""
    found: dict[int, list[dict[str, Any]]] = {alarm_id: [] for alarm_id in alarm_ids}
    if not alarm_ids:
        return found
    actions = (
        select(AlarmEventRecord)
        .where(AlarmEventRecord.alarm_id.in_(alarm_ids), AlarmEventRecord.by.is_not(None))
        .order_by(AlarmEventRecord.id)
    )
    for event in session.scalars(actions):
        found[event.alarm_id].append(
            {"event": event.event, "by": event.by, "at": _iso(event.at), "note": event.note}
        )
    return found


def _alarms(session: Session, site: Site, shift: ShiftInstance) -> tuple[list, list]:
    raised_ids = set(
        session.scalars(
            select(AlarmEventRecord.alarm_id)
            .join(AlarmRecord)
            .where(
                AlarmRecord.site == site.id,
                AlarmEventRecord.event == "raised",
                AlarmEventRecord.at >= shift.start,
                AlarmEventRecord.at < shift.end,
            )
        )
    )
    open_alarms = list(
        session.scalars(
            select(AlarmRecord)
            .where(AlarmRecord.site == site.id, AlarmRecord.state != AlarmState.NORMAL.value)
            .order_by(AlarmRecord.raised_at)
        )
    )
    raised = (
        list(session.scalars(select(AlarmRecord).where(AlarmRecord.id.in_(sorted(raised_ids)))))
        if raised_ids
        else []
    )
    handling = _handling(session, sorted(raised_ids | {a.id for a in open_alarms}))
    raised_out = [{**_alarm(a), "handling": handling[a.id]} for a in raised]
    open_out = [{**_alarm(a), "handling": handling[a.id]} for a in open_alarms]
    return raised_out, open_out


def _out_of_service(session: Session, site: Site) -> list[dict[str, Any]]:
    tags = session.scalars(
        select(EquipmentTag).where(EquipmentTag.site == site.id, EquipmentTag.removed_at.is_(None))
    )
    return [
        {
            "node": t.node,
            "device": t.device,
            "by": t.tagged_by,
            "reason": t.reason,
            "since": _iso(t.tagged_at),
        }
        for t in tags
    ]


def _patrol(session: Session, site: Site, shift: ShiftInstance) -> dict[str, Any]:
    tours = list(
        session.scalars(
            select(PatrolTour)
            .where(
                PatrolTour.site == site.id,
                PatrolTour.status != TourStatus.IN_PROGRESS,
                PatrolTour.ended_at >= shift.start,
                PatrolTour.ended_at < shift.end,
            )
            .order_by(PatrolTour.ended_at)
        )
    )
    late_ids = set()
    if tours:
        late_ids = set(
            session.scalars(
                select(PatrolVisit.tour_id).where(
                    PatrolVisit.tour_id.in_([t.id for t in tours]),
                    PatrolVisit.verdict.in_([Verdict.LATE, Verdict.OUT_OF_ORDER]),
                )
            )
        )
    counts = Counter(t.status for t in tours)
    routes = site.patrol.routes
    return {
        "done": counts[TourStatus.COMPLETED],
        "late": len(late_ids),
        "missed": counts[TourStatus.INCOMPLETE],
        "not_started": counts[TourStatus.NOT_STARTED],
        "problems": [
            {
                "tour": t.id,
                "route": routes[t.route].name if t.route in routes else t.route,
                "status": t.status,
                "late": t.id in late_ids,
                "guard": t.guard,
                "scheduled_at": _iso(t.scheduled_at),
            }
            for t in tours
            if t.status != TourStatus.COMPLETED or t.id in late_ids
        ],
    }


def _gates(session: Session, site: Site, shift: ShiftInstance) -> dict[str, Any]:
    anomalies = list(
        session.scalars(
            select(GatePassRecord)
            .where(
                GatePassRecord.site == site.id,
                GatePassRecord.at >= shift.start,
                GatePassRecord.at < shift.end,
                (GatePassRecord.allowed.is_(False))
                | GatePassRecord.violation
                | GatePassRecord.reason.in_(["override", "registered", "emergency"]),
            )
            .order_by(GatePassRecord.at)
        )
    )
    return {
        "by_reason": dict(sorted(Counter(p.reason for p in anomalies).items())),
        "notable": [
            {
                "at": _iso(p.at),
                "lane": p.lane,
                "card": p.card,
                "reason": p.reason,
                "allowed": p.allowed,
                "by": p.by,
                "note": p.note,
            }
            for p in anomalies
            if p.reason in ("lost", "override", "registered", "emergency") or p.violation
        ],
    }


def _overdue_checks(
    entries: list[DutyLogEntry], site: Site, shift: ShiftInstance, now: datetime
) -> list[dict[str, str]]:
    """Stretches of the shift longer than the status-check interval with no status entry."""
    every = timedelta(hours=site.duty.status_check_hours)
    checks = [e.at for e in entries if e.kind == EntryKind.STATUS_CHECK]
    marks = [shift.start, *checks, min(shift.end, now)]
    return [
        {"from": _iso(a + every) or "", "to": _iso(b) or ""}
        for a, b in itertools.pairwise(marks)
        if b - a > every
    ]


def _entry(entry: DutyLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "kind": entry.kind,
        "author": entry.author,
        "text": entry.text,
        "alarm_id": entry.alarm_id,
        "location": entry.location,
        "cause": entry.cause,
        "handling": entry.handling,
        "corrects_id": entry.corrects_id,
    }


def draft(session: Session, site: Site, shift: ShiftInstance, now: datetime) -> dict[str, Any]:
    entries = list(
        session.scalars(
            select(DutyLogEntry)
            .where(
                DutyLogEntry.site == site.id,
                DutyLogEntry.shift == shift.shift,
                DutyLogEntry.shift_date == shift.day,
            )
            .order_by(DutyLogEntry.at, DutyLogEntry.id)
        )
    )
    raised, still_open = _alarms(session, site, shift)
    return {
        "site": {"id": site.id, "name": site.name},
        "shift": {
            "id": shift.shift,
            "name": shift.name,
            "date": shift.day.isoformat(),
            "start": _iso(shift.start),
            "end": _iso(shift.end),
        },
        "staff": staff_of(session, site, shift),
        "drafted_at": _iso(now),
        "alarms_raised": raised,
        "alarms_open": still_open,
        "out_of_service": _out_of_service(session, site),
        "patrol": _patrol(session, site, shift),
        "gates": _gates(session, site, shift),
        "overdue_status_checks": _overdue_checks(entries, site, shift, now),
        "log": [_entry(e) for e in entries],
    }
