"""Turn conditions of points, devices and node links into alarms: rules, delays, held alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.alarms import lifecycle
from cloud.alarms.rules import Sample, evaluate
from cloud.alarms.states import AlarmState
from cloud.models import AlarmRecord
from cloud.working_set import PointKey, WorkingSet
from sitewatch.siteconfig import Category, Device, Node, PointSpec, Priority, Site
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


@dataclass(frozen=True)
class Condition:
    name: str
    category: Category
    priority: Priority
    text: str
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0


def _new_alarm(work: WorkingSet, source: Source, condition: Condition) -> AlarmRecord:
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
        state=AlarmState.NORMAL.value,
        active=False,
        raw_active=False,
        latched=False,
    )
    work.add_alarm(alarm)
    return alarm


def _hold_if_due(work: WorkingSet, alarm: AlarmRecord, at: datetime) -> None:
    """A new alarm on tagged equipment, or inside a suppression window, starts held."""
    tag = work.tag(alarm.site, alarm.node, alarm.device)
    if tag is not None:
        lifecycle.remove_from_service(alarm, tag.tagged_by, at, f"equipment tagged: {tag.reason}")
        return
    why = suppressed_by(work.sites.get(alarm.site), alarm, at)
    if why is not None:
        lifecycle.suppress(alarm, at, why)


def suppressed_by(site: Site | None, alarm: AlarmRecord, at: datetime) -> str | None:
    """The suppression window by design that holds this alarm at `at`, if any."""
    if site is None:
        return None
    for suppression in site.suppressions:
        if suppression.covers(alarm.node, alarm.device, alarm.point) and suppression.active(
            at, site.timezone
        ):
            return f"suppressed by design: {suppression.name}"
    return None


def set_condition(
    work: WorkingSet,
    source: Source,
    condition: Condition,
    raw: bool,
    value: Value,
    at: datetime,
    alarm: AlarmRecord | None = None,
) -> None:
    """The rule says the condition is `raw` at `at`; after its delay, that moves the alarm.
    `alarm`: the condition's alarm, when the caller has already looked it up."""
    if alarm is None:
        alarm = work.alarm(source.key, condition.name)
    if alarm is None:
        if not raw:
            return
        alarm = _new_alarm(work, source, condition)
        _hold_if_due(work, alarm, at)
    if raw != alarm.raw_active:
        alarm.raw_active = raw
        delay = condition.on_delay_s if raw else condition.off_delay_s
        alarm.due_at = at + timedelta(seconds=delay)
    if raw == alarm.active:
        # Nothing moves (or a change did not outlast its delay). Only what differs is written,
        # so a rule re-stated on every clock tick leaves the row alone.
        if alarm.due_at is not None:
            alarm.due_at = None
        if raw and alarm.value != value:
            alarm.value = value
        return
    if alarm.due_at is None or alarm.due_at <= at:
        alarm.due_at = None
        lifecycle.set_active(alarm, raw, value, at)
    else:
        alarm.value = value  # waiting out the delay; the clock finishes it (clock.tick)


def source_time(ts_ms: int) -> datetime:
    """When it happened at the device (the edge's clock), which is what the log must show."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class _PointRule:
    """What the engine needs of a point with an alarm rule, made once, not once per value."""

    device: Device  # held, so that its id() stays this device's while the entry lives
    spec: PointSpec
    source: Source
    key: PointKey
    conditions: dict[str, Condition]  # by the names `evaluate` gives its verdicts


# (site, id(device), point) → its alarm rule; None for a point without one. Ingest threads
# share it: an entry is made from the site's configuration alone, so a race makes it twice.
_point_rules: dict[tuple[str, int, str], _PointRule | None] = {}


def _point_rule(site: str, device: Device, point: str) -> _PointRule | None:
    found = _point_rules.get((site, id(device), point), False)
    if found is False or (found is not None and found.device is not device):
        found = _make_point_rule(site, device, point)
        _point_rules[(site, id(device), point)] = found
    return found  # type: ignore[return-value]


def _make_point_rule(site: str, device: Device, point: str) -> _PointRule | None:
    spec = device.points.get(point)
    if spec is None or spec.alarm is None:
        return None
    rule = spec.alarm
    source = Source.of_device(site, device, point)
    texts = {}
    if rule.rate_per_min is not None:
        texts["rate"] = f"{rule.text} (changing faster than {rule.rate_per_min:g}/min)"
    conditions = {
        name: Condition(
            name,
            rule.category,
            rule.priority,
            texts.get(name, rule.text),
            rule.on_delay_s,
            rule.off_delay_s,
        )
        for name in ("abnormal", "low", "high", "rate")
    }
    return _PointRule(device, spec, source, source.key, conditions)


def on_point_value(
    work: WorkingSet,
    site: str,
    device: Device,
    point: str,
    now: Sample,
    previous: Sample | None = None,
) -> None:
    """Apply a new good-quality sample of a point (and the one before it, for rates)."""
    # Runs for every value ingest stores: the rule's parts are looked up, not rebuilt.
    rule = _point_rule(site, device, point)
    if rule is None:
        return
    alarms = work.alarms_of(rule.key)
    raw = {name: a.raw_active for name, a in alarms.items()}
    at = source_time(now.ts)
    for verdict in evaluate(rule.spec, now.value, raw, now, previous):
        condition = rule.conditions[verdict.condition]
        set_condition(
            work, rule.source, condition, verdict.active, now.value, at, alarms.get(condition.name)
        )


def on_late_point_value(
    work: WorkingSet, site: str, device: Device, point: str, late: Sample, newer_ts: int
) -> None:
    """A good value older than the point's stored one, which came first through another worker
    (a shared subscription hands a node's messages to the workers in turn). It cannot move the
    alarm back, but an activation it shows happened: if the alarm is off now and no occurrence
    covers the value's time, it is recorded as an occurrence that ended by the stored value's
    time (`newer_ts`), so the control room sees it and acknowledges it as one worker would have
    had it."""
    rule = _point_rule(site, device, point)
    if rule is None or late.ts >= newer_ts:
        return
    alarms = work.alarms_of(rule.key)
    at, ended = source_time(late.ts), source_time(newer_ts)
    for verdict in evaluate(rule.spec, late.value, {}):
        condition = rule.conditions[verdict.condition]
        if not verdict.active or condition.on_delay_s:
            continue  # persisting for an on-delay cannot be told from one value
        alarm = alarms.get(condition.name)
        if alarm is not None and not _missed(alarm, at):
            continue
        if alarm is None:
            alarm = _new_alarm(work, rule.source, condition)
            _hold_if_due(work, alarm, at)
        lifecycle.set_active(alarm, True, late.value, at)
        lifecycle.set_active(alarm, False, late.value, ended)


def _missed(alarm: AlarmRecord, at: datetime) -> bool:
    """Whether an activation at `at` is in no occurrence of the alarm: it is off, and `at` is
    after its last occurrence ended (or it never had one). Before the last occurrence began, its
    history would have to be read to tell: left alone."""
    if alarm.active or alarm.raw_active:
        return False
    if alarm.raised_at is None:
        return True
    return alarm.cleared_at is not None and at > alarm.cleared_at


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
