"""Read alarms for the API and the live console: filters, display order, tags, recent values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alarms.engine import CATEGORY_RANK, PRIORITY_RANK
from cloud.alarms.states import OPEN_STATE_VALUES, STATE_RANK, AlarmState
from cloud.api.alarm_schemas import AlarmOut, Comment, RecentValue, Tagged
from cloud.models import AlarmEventRecord, AlarmRecord, EquipmentTag, StoredMessage
from cloud.telemetry import TelemetryReader
from cloud.telemetry.embedded import SqlTelemetryReader

RECENT_MESSAGES = 500  # how far back a flag's detail page looks for its values


@dataclass(frozen=True)
class AlarmFilter:
    site: str | None = None
    area: str | None = None
    category: str | None = None
    states: tuple[str, ...] = ()
    include_normal: bool = False
    active: bool | None = None

    def matches(self, alarm: AlarmOut) -> bool:
        return (
            (self.site is None or alarm.site == self.site)
            and (self.area is None or alarm.area == self.area)
            and (self.category is None or alarm.category == self.category)
            and (not self.states or alarm.state in self.states)
            and (self.include_normal or alarm.state != AlarmState.NORMAL.value)
            and (self.active is None or alarm.active is self.active)
        )


def sort_key(alarm: AlarmRecord | AlarmOut) -> tuple:
    """What needs the operator first: unacknowledged, then fire before supervisory before
    trouble, then priority, then active before cleared, newest first."""
    raised = alarm.raised_at.timestamp() if alarm.raised_at else 0.0
    return (
        STATE_RANK.get(AlarmState(alarm.state), 99),
        CATEGORY_RANK.get(alarm.category, 99),
        PRIORITY_RANK.get(alarm.priority, 99),
        not alarm.active,
        -raised,
    )


def _tags(session: Session, alarms: list[AlarmRecord]) -> dict[tuple[str, str, str], Tagged]:
    devices = {(a.site, a.node, a.device) for a in alarms if a.state == "out_of_service"}
    if not devices:
        return {}
    rows = session.scalars(select(EquipmentTag).where(EquipmentTag.removed_at.is_(None)))
    return {
        (t.site, t.node, t.device): Tagged(by=t.tagged_by, reason=t.reason, at=t.tagged_at)
        for t in rows
        if (t.site, t.node, t.device) in devices
    }


def _last_comments(session: Session, alarms: list[AlarmRecord]) -> dict[int, Comment]:
    """Each alarm's newest comment, read from its history (the one record of comments)."""
    latest: dict[int, Comment] = {}
    ids = [a.id for a in alarms]
    for start in range(0, len(ids), 500):
        lines = session.execute(
            select(
                AlarmEventRecord.alarm_id,
                AlarmEventRecord.by,
                AlarmEventRecord.note,
                AlarmEventRecord.at,
            )
            .where(
                AlarmEventRecord.event == "commented",
                AlarmEventRecord.alarm_id.in_(ids[start : start + 500]),
            )
            .order_by(AlarmEventRecord.id)
        )
        for alarm_id, by, note, at in lines:
            latest[alarm_id] = Comment(by=by or "", note=note or "", at=at)
    return latest


def to_out(session: Session, alarms: Iterable[AlarmRecord]) -> list[AlarmOut]:
    records = list(alarms)
    tags = _tags(session, records)
    comments = _last_comments(session, records)
    return [
        AlarmOut(
            id=a.id,
            site=a.site,
            node=a.node,
            device=a.device,
            device_name=a.device_name,
            point=a.point,
            condition=a.condition,
            category=a.category,
            priority=a.priority,
            text=a.text,
            area=a.location,
            state=a.state,
            active=a.active,
            latched=a.latched,
            value=a.value,
            raised_at=a.raised_at,
            cleared_at=a.cleared_at,
            changed_at=a.changed_at,
            acked_by=a.acked_by,
            acked_at=a.acked_at,
            shelved_until=a.shelved_until,
            shelved_by=a.shelved_by,
            shelve_reason=a.shelve_reason,
            out_of_service=tags.get((a.site, a.node, a.device)),
            last_comment=comments.get(a.id),
        )
        for a in records
    ]


def list_alarms(session: Session, wanted: AlarmFilter, limit: int = 5000) -> list[AlarmOut]:
    query = select(AlarmRecord).order_by(AlarmRecord.changed_at.desc()).limit(limit)
    if not wanted.include_normal:
        query = query.where(AlarmRecord.state.in_(OPEN_STATE_VALUES))
    if wanted.site is not None:
        query = query.where(AlarmRecord.site == wanted.site)
    if wanted.area is not None:
        query = query.where(AlarmRecord.location == wanted.area)
    if wanted.category is not None:
        query = query.where(AlarmRecord.category == wanted.category)
    if wanted.states:
        query = query.where(AlarmRecord.state.in_(wanted.states))
    if wanted.active is not None:
        query = query.where(AlarmRecord.active.is_(wanted.active))
    return sorted(to_out(session, session.scalars(query)), key=sort_key)


def alarms_by_id(session: Session, ids: list[int]) -> list[AlarmOut]:
    return to_out(session, session.scalars(select(AlarmRecord).where(AlarmRecord.id.in_(ids))))


def recent_values(
    session: Session, alarm: AlarmRecord, limit: int = 50, reader: TelemetryReader | None = None
) -> list[RecentValue]:
    """The point's latest values, newest first: its trend, read through the telemetry reader
    (the embedded tables of this database when none is given; a minute rolled up by the
    downsampler shows as its average). Flags and text are not trended: for a point with no
    trend, its values are taken from the last messages its node sent."""
    if reader is None:
        reader = SqlTelemetryReader(sessionmaker(session.get_bind()))
    points = reader.latest(alarm.site, alarm.node, alarm.device, alarm.point, limit)
    if points:
        return [RecentValue(ts=p.ts, value=p.avg, quality="good") for p in points]
    return _values_from_messages(session, alarm, limit)


def _values_from_messages(session: Session, alarm: AlarmRecord, limit: int) -> list[RecentValue]:
    rows = session.scalars(
        select(StoredMessage.payload)
        .where(StoredMessage.site == alarm.site, StoredMessage.node == alarm.node)
        .order_by(StoredMessage.id.desc())
        .limit(RECENT_MESSAGES)
    )
    found: list[RecentValue] = []
    for payload in rows:
        items = [*payload.get("items", []), *payload.get("samples", []), *payload.get("points", [])]
        for item in reversed(items):
            # ts 0 is a birth's placeholder for a point never read: not a value.
            if (
                item.get("device") == alarm.device
                and item.get("point") == alarm.point
                and item.get("ts", 0) > 0
            ):
                found.append(
                    RecentValue(
                        ts=datetime.fromtimestamp(item["ts"] / 1000, UTC),
                        value=item.get("value"),
                        quality=item.get("quality", "good"),
                    )
                )
        if len(found) >= limit:
            break
    return sorted(found, key=lambda v: v.ts, reverse=True)[:limit]
