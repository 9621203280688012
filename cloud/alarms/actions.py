"""Operator actions on alarms, each in its own transaction, recorded with who, when and why.

Taking equipment out of service tags the whole device (挂警示标识): every alarm of it is held,
and so is any alarm it raises until the tag is removed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms import lifecycle
from cloud.alarms.states import AlarmState, IllegalTransition
from cloud.models import AlarmRecord, EquipmentTag


class UnknownAlarm(LookupError):
    pass


def get_alarm(session: Session, alarm_id: int) -> AlarmRecord:
    alarm = session.get(AlarmRecord, alarm_id)
    if alarm is None:
        raise UnknownAlarm(f"no alarm {alarm_id}")
    return alarm


def acknowledge(session: Session, alarm_id: int, by: str, at: datetime, note: str | None) -> None:
    lifecycle.acknowledge(get_alarm(session, alarm_id), by, at, note)


def comment(session: Session, alarm_id: int, by: str, at: datetime, note: str) -> None:
    lifecycle.comment(get_alarm(session, alarm_id), by, at, note)


def reset(session: Session, alarm_id: int, by: str, at: datetime, note: str | None) -> None:
    lifecycle.reset(get_alarm(session, alarm_id), by, at, note)


def shelve(
    session: Session,
    alarm_id: int,
    by: str,
    at: datetime,
    minutes: int,
    reason: str,
    max_minutes: int,
) -> None:
    alarm = get_alarm(session, alarm_id)
    if minutes > max_minutes:
        raise IllegalTransition(
            f"shelving is limited to {max_minutes} minutes (SITEWATCH_MAX_SHELVE_MINUTES)"
        )
    lifecycle.shelve(alarm, by, at, at + timedelta(minutes=minutes), reason)


def unshelve(session: Session, alarm_id: int, by: str, at: datetime, note: str | None) -> None:
    lifecycle.unshelve(get_alarm(session, alarm_id), by, at, note)


def active_tag(session: Session, site: str, node: str, device: str) -> EquipmentTag | None:
    return session.scalar(
        select(EquipmentTag).where(
            EquipmentTag.site == site,
            EquipmentTag.node == node,
            EquipmentTag.device == device,
            EquipmentTag.removed_at.is_(None),
        )
    )


def _device_alarms(session: Session, site: str, node: str, device: str) -> list[AlarmRecord]:
    return list(
        session.scalars(
            select(AlarmRecord).where(
                AlarmRecord.site == site, AlarmRecord.node == node, AlarmRecord.device == device
            )
        )
    )


def tag_equipment(
    session: Session, site: str, node: str, device: str, by: str, at: datetime, reason: str
) -> EquipmentTag:
    """Hang a maintenance tag on a device: all its alarms are held while it hangs."""
    if not reason.strip():
        raise IllegalTransition("taking equipment out of service needs a reason")
    if active_tag(session, site, node, device) is not None:
        raise IllegalTransition(f"{device} is already out of service")
    tag = EquipmentTag(
        site=site, node=node, device=device, tagged_by=by, reason=reason, tagged_at=at
    )
    session.add(tag)
    for each in _device_alarms(session, site, node, device):
        if each.state != AlarmState.OUT_OF_SERVICE.value:
            lifecycle.remove_from_service(each, by, at, reason)
    return tag


def untag_equipment(
    session: Session, site: str, node: str, device: str, by: str, at: datetime, note: str | None
) -> None:
    """Remove the device's tag; an alarm whose condition is still there fires again."""
    tag = active_tag(session, site, node, device)
    alarms = _device_alarms(session, site, node, device)
    held = [a for a in alarms if a.state == AlarmState.OUT_OF_SERVICE.value]
    if tag is None and not held:
        raise IllegalTransition(f"{device} is not out of service")
    if tag is not None:
        tag.removed_by, tag.removed_at, tag.removed_note = by, at, note
    for each in held:
        lifecycle.return_to_service(each, by, at, note)


def take_out_of_service(
    session: Session, alarm_id: int, by: str, at: datetime, reason: str
) -> None:
    """Tag the alarm's device for maintenance (from the alarm list)."""
    alarm = get_alarm(session, alarm_id)
    tag_equipment(session, alarm.site, alarm.node, alarm.device, by, at, reason)


def return_to_service(
    session: Session, alarm_id: int, by: str, at: datetime, note: str | None
) -> None:
    alarm = get_alarm(session, alarm_id)
    untag_equipment(session, alarm.site, alarm.node, alarm.device, by, at, note)
