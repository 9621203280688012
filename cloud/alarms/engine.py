"""Raise and clear alarms from point values, keeping the ISA-18.2 state and an append-only history."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.rules import evaluate
from cloud.models import AlarmEventRecord, AlarmRecord
from sitewatch.siteconfig import Category, Device, Priority
from sitewatch.wire import Value


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RTN_UNACKNOWLEDGED = "rtn_unacknowledged"


OPEN_STATES = (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.RTN_UNACKNOWLEDGED)
PRIORITY_RANK = {p.value: i for i, p in enumerate(Priority)}
CATEGORY_RANK = {c.value: i for i, c in enumerate(Category)}  # fire, supervisory, trouble
DEVICE_POINT = "(device)"


def _open_alarms(
    session: Session, site: str, node: str, device: str, point: str
) -> dict[str, AlarmRecord]:
    rows = session.scalars(
        select(AlarmRecord).where(
            AlarmRecord.site == site,
            AlarmRecord.node == node,
            AlarmRecord.device == device,
            AlarmRecord.point == point,
            AlarmRecord.state.in_([s.value for s in OPEN_STATES]),
        )
    )
    return {row.condition: row for row in rows}


def _record(
    alarm: AlarmRecord, event: str, at: datetime, value: Value = None, by: str | None = None
) -> None:
    alarm.history.append(
        AlarmEventRecord(event=event, state=alarm.state, value=value, at=at, by=by)
    )


def _raise(
    session: Session,
    site: str,
    device: Device,
    point: str,
    condition: str,
    category: Category,
    priority: Priority,
    text: str,
    value: Value,
    at: datetime,
) -> AlarmRecord:
    alarm = AlarmRecord(
        site=site,
        node=device.node,
        device=device.id,
        point=point,
        condition=condition,
        category=category.value,
        priority=priority.value,
        text=text,
        location=device.location,
        device_name=device.name,
        state=AlarmState.UNACKNOWLEDGED.value,
        active=True,
        value=value,
        raised_at=at,
    )
    session.add(alarm)
    _record(alarm, "raised", at, value)
    return alarm


def _set_active(alarm: AlarmRecord, active: bool, value: Value, at: datetime) -> None:
    if active and not alarm.active:
        alarm.active, alarm.cleared_at = True, None
        alarm.state = AlarmState.UNACKNOWLEDGED.value
        alarm.value = value
        _record(alarm, "returned", at, value)
    elif not active and alarm.active:
        alarm.active, alarm.cleared_at = False, at
        if alarm.state == AlarmState.ACKNOWLEDGED.value:
            alarm.state, alarm.closed_at = AlarmState.NORMAL.value, at
        else:
            alarm.state = AlarmState.RTN_UNACKNOWLEDGED.value
        _record(alarm, "cleared", at, value)


def source_time(ts_ms: int) -> datetime:
    """When it happened at the device (the edge's clock), which is what the log must show."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def on_point_value(
    session: Session, site: str, device: Device, point: str, value: Value, at: datetime
) -> None:
    """Apply a new good-quality value of a point, read at `at`, to its alarms."""
    spec = device.points.get(point)
    if spec is None or spec.alarm is None:
        return
    now = at
    open_alarms = _open_alarms(session, site, device.node, device.id, point)
    verdicts = evaluate(spec, value, {c: a.active for c, a in open_alarms.items()})
    for verdict in verdicts:
        existing = open_alarms.get(verdict.condition)
        if existing is not None:
            _set_active(existing, verdict.active, value, now)
        elif verdict.active:
            rule = spec.alarm
            _raise(
                session,
                site,
                device,
                point,
                verdict.condition,
                rule.category,
                rule.priority,
                rule.text,
                value,
                now,
            )


def on_device_status(
    session: Session, site: str, device: Device, online: bool, reason: str | None, at: datetime
) -> None:
    """A device that stops answering is a trouble condition of its own."""
    now = at
    existing = _open_alarms(session, site, device.node, device.id, DEVICE_POINT).get("offline")
    if existing is not None:
        _set_active(existing, not online, reason, now)
    elif not online:
        text = f"Device not responding: {reason}" if reason else "Device not responding"
        _raise(
            session,
            site,
            device,
            DEVICE_POINT,
            "offline",
            Category.TROUBLE,
            Priority.HIGH,
            text[:200],
            reason,
            now,
        )
