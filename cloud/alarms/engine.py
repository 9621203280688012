"""Raise and clear alarms from point values, keeping the ISA-18.2 state and an append-only history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.alarms.rules import evaluate
from cloud.alarms.states import AlarmState
from cloud.models import AlarmEventRecord, AlarmRecord
from cloud.working_set import PointKey, WorkingSet
from sitewatch.siteconfig import Category, Device, Node, Priority
from sitewatch.wire import Value

PRIORITY_RANK = {p.value: i for i, p in enumerate(Priority)}
CATEGORY_RANK = {c.value: i for i, c in enumerate(Category)}  # fire, supervisory, trouble
DEVICE_POINT = "(device)"
NODE_DEVICE = "(node)"
NODE_POINT = "(link)"
CLOCK_LIMIT_MS = 5_000


@dataclass(frozen=True)
class Source:
    """What an alarm is about: a point of a device, a device itself, or a node's link."""

    site: str
    node: str
    device: str
    point: str
    name: str | None = None
    location: str | None = None

    @property
    def key(self) -> PointKey:
        return (self.site, self.node, self.device, self.point)

    @classmethod
    def of_device(cls, site: str, device: Device, point: str = DEVICE_POINT) -> Source:
        return cls(site, device.node, device.id, point, device.name, device.location)

    @classmethod
    def of_node(cls, site: str, node: Node) -> Source:
        return cls(site, node.id, NODE_DEVICE, NODE_POINT, node.name, None)


def _record(
    alarm: AlarmRecord, event: str, at: datetime, value: Value = None, by: str | None = None
) -> None:
    alarm.history.append(
        AlarmEventRecord(event=event, state=alarm.state, value=value, at=at, by=by)
    )


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


@dataclass(frozen=True)
class Condition:
    name: str
    category: Category
    priority: Priority
    text: str


def set_condition(
    work: WorkingSet,
    source: Source,
    condition: Condition,
    active: bool,
    value: Value,
    at: datetime,
    open_alarms: dict[str, AlarmRecord] | None = None,
) -> None:
    """Raise, return or clear the alarm of one condition of one source."""
    if open_alarms is None:
        open_alarms = work.open_alarms(source.key)
    existing = open_alarms.get(condition.name)
    if existing is not None:
        _set_active(existing, active, value, at)
    elif active:
        alarm = AlarmRecord(
            site=source.site,
            node=source.node,
            device=source.device,
            point=source.point,
            condition=condition.name,
            category=condition.category.value,
            priority=condition.priority.value,
            text=condition.text[:200],
            location=source.location,
            device_name=source.name,
            state=AlarmState.UNACKNOWLEDGED.value,
            active=True,
            value=value,
            raised_at=at,
        )
        work.add_alarm(alarm)
        _record(alarm, "raised", at, value)


def source_time(ts_ms: int) -> datetime:
    """When it happened at the device (the edge's clock), which is what the log must show."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def on_point_value(
    work: WorkingSet, site: str, device: Device, point: str, value: Value, at: datetime
) -> None:
    """Apply a new good-quality value of a point, read at `at`, to its alarms."""
    spec = device.points.get(point)
    if spec is None or spec.alarm is None:
        return
    rule = spec.alarm
    source = Source.of_device(site, device, point)
    open_alarms = work.open_alarms(source.key)
    for verdict in evaluate(spec, value, {c: a.active for c, a in open_alarms.items()}):
        condition = Condition(verdict.condition, rule.category, rule.priority, rule.text)
        set_condition(work, source, condition, verdict.active, value, at, open_alarms)


def on_device_status(
    work: WorkingSet, site: str, device: Device, online: bool, reason: str | None, at: datetime
) -> None:
    """A device that stops answering is a trouble condition of its own."""
    text = f"Device not responding: {reason}" if reason else "Device not responding"
    condition = Condition("offline", Category.TROUBLE, Priority.HIGH, text)
    set_condition(work, Source.of_device(site, device), condition, not online, reason, at)


LINK_LOST = Condition("link", Category.TROUBLE, Priority.HIGH, "Edge node link lost (no data)")
CLOCK_SKEW = Condition(
    "clock", Category.TROUBLE, Priority.MEDIUM, "Edge node clock off by more than 5 s (GA/T 1742)"
)


DISK_BUDGET = Condition(
    "disk",
    Category.TROUBLE,
    Priority.HIGH,
    "Edge outbox over its disk budget: keeping every event, check the link and the disk",
)


def on_node_disk(work: WorkingSet, site: str, node: Node, over: bool, at: datetime) -> None:
    set_condition(work, Source.of_node(site, node), DISK_BUDGET, over, over, at)


def on_node_link(
    work: WorkingSet, site: str, node: Node, lost: bool, reason: str, at: datetime
) -> None:
    """A node whose link died (its will) or that went silent past its heartbeat."""
    set_condition(work, Source.of_node(site, node), LINK_LOST, lost, reason, at)


def on_node_clock(work: WorkingSet, site: str, node: Node, offset_ms: int, at: datetime) -> None:
    skewed = abs(offset_ms) > CLOCK_LIMIT_MS
    set_condition(work, Source.of_node(site, node), CLOCK_SKEW, skewed, offset_ms, at)
