"""Apply one validated wire message to the database: dedup, node/device/point state, alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms import engine
from cloud.models import (
    CardReadRecord,
    DeadLetter,
    DeviceRecord,
    NodeRecord,
    PointRecord,
    StoredMessage,
    utcnow,
)
from sitewatch import wire
from sitewatch.siteconfig import Site


class Rejected(Exception):
    """The message is well-formed but not acceptable here (e.g. an unknown node)."""


@dataclass(frozen=True)
class Stored:
    """What happened to a message: the position to confirm, and whether it was new."""

    site: str
    node: str
    stream: str
    seq: int
    duplicate: bool
    rebirth: bool = False  # the node came back without a birth: ask it for one


def _node(session: Session, site: str, node: str) -> NodeRecord:
    record = session.scalar(
        select(NodeRecord).where(NodeRecord.site == site, NodeRecord.node == node)
    )
    if record is None:
        record = NodeRecord(site=site, node=node, boot=0, online=False)
        session.add(record)
    return record


def _is_newer(point: PointRecord, stream: str, seq: int) -> bool:
    # A new stream means a new outbox (a replaced SD card); its messages are the newest we know.
    # An equal seq is a later item of the same message (a pulse's fall after its rise): it wins.
    return point.stream != stream or seq >= point.seq


def _apply_point(
    session: Session, sites: dict[str, Site], msg: wire.Envelope, value: wire.PointValue
) -> None:
    site = sites[msg.site]
    device = site.device(msg.node, value.device)
    if device is None or value.point not in device.points:
        raise Rejected(f"point {value.device}.{value.point} is not configured on node {msg.node}")
    record = session.scalar(
        select(PointRecord).where(
            PointRecord.site == msg.site,
            PointRecord.node == msg.node,
            PointRecord.device == value.device,
            PointRecord.point == value.point,
        )
    )
    if record is None:
        record = PointRecord(site=msg.site, node=msg.node, device=value.device, point=value.point)
        session.add(record)
    elif not _is_newer(record, msg.stream, msg.seq):
        return
    record.value, record.quality, record.source_ts = value.value, value.quality.value, value.ts
    record.stream, record.seq = msg.stream, msg.seq
    if value.quality is wire.Quality.GOOD:
        engine.on_point_value(
            session, msg.site, device, value.point, value.value, engine.source_time(value.ts)
        )


def _apply_device(
    session: Session, sites: dict[str, Site], msg: wire.Envelope, status: wire.DeviceStatus
) -> None:
    device = sites[msg.site].device(msg.node, status.device)
    if device is None:
        raise Rejected(f"device {status.device} is not configured on node {msg.node}")
    record = session.scalar(
        select(DeviceRecord).where(
            DeviceRecord.site == msg.site,
            DeviceRecord.node == msg.node,
            DeviceRecord.device == status.device,
        )
    )
    if record is None:
        record = DeviceRecord(site=msg.site, node=msg.node, device=status.device)
        session.add(record)
    elif record.stream == msg.stream and record.seq is not None and msg.seq < record.seq:
        return  # an older report, re-sent: the device's state has moved on since
    record.online, record.reason, record.changed_at = status.online, status.reason, utcnow()
    record.stream, record.seq = msg.stream, msg.seq
    engine.on_device_status(
        session, msg.site, device, status.online, status.reason, engine.source_time(status.ts)
    )


def _apply_tap(
    session: Session, sites: dict[str, Site], msg: wire.Envelope, tap: wire.CardTap
) -> None:
    if tap.reader not in sites[msg.site].nodes[msg.node].readers:
        raise Rejected(f"reader {tap.reader} is not configured on node {msg.node}")
    session.add(
        CardReadRecord(
            site=msg.site,
            node=msg.node,
            reader=tap.reader,
            card=tap.card,
            format=tap.format,
            source_ts=tap.ts,
            stream=msg.stream,
            seq=msg.seq,
        )
    )


def _link_lost(session: Session, site: Site, node: NodeRecord, reason: str) -> None:
    """The node's values are stale, not normal, and the control room gets a link trouble."""
    node.online = False
    for point in session.scalars(
        select(PointRecord).where(PointRecord.site == node.site, PointRecord.node == node.node)
    ):
        point.quality = "stale"
    engine.on_node_link(session, site.id, site.nodes[node.node], True, reason, utcnow())


def silence_limit_s(heartbeat_s: int) -> float:
    """How long a node may be silent: two heartbeats and some slack, and never past the 100 s
    in which GB 26875 wants a lost link reported (the supervisor checks every few seconds)."""
    return min(2 * heartbeat_s + 10, 90)


def supervise(
    session: Session, sites: dict[str, Site], now: datetime, watching_since: datetime | None = None
) -> list[str]:
    """Mark nodes that went silent; returns their names. Run on a clock, not on messages.

    `watching_since`: when this cloud began listening. Silence before that is the cloud's own
    outage, not the node's, and the node's backlog is still on its way.
    """
    lost = []
    for node in session.scalars(select(NodeRecord).where(NodeRecord.online.is_(True))):
        site = sites.get(node.site)
        if site is None or node.node not in site.nodes or node.last_seen is None:
            continue
        limit = silence_limit_s(site.nodes[node.node].heartbeat_s)
        heard = max(node.last_seen, watching_since) if watching_since else node.last_seen
        silent = (now - heard).total_seconds()
        if silent > limit:
            _link_lost(session, site, node, f"silent for {silent:.0f} s (limit {limit:.0f} s)")
            lost.append(f"{node.site}/{node.node}")
    return lost


def _apply_heartbeat(
    session: Session, sites: dict[str, Site], msg: wire.Envelope, beat: wire.Heartbeat
) -> None:
    node = _node(session, msg.site, msg.node)
    node.last_heartbeat = engine.source_time(beat.ts)
    site = sites[msg.site]
    engine.on_node_disk(session, site.id, site.nodes[msg.node], beat.disk_over_budget, utcnow())
    if beat.clock_offset_ms is not None:
        node.clock_offset_ms = beat.clock_offset_ms
        engine.on_node_clock(session, site.id, site.nodes[msg.node], beat.clock_offset_ms, utcnow())


def _apply_death(session: Session, sites: dict[str, Site], msg: wire.Death) -> None:
    node = _node(session, msg.site, msg.node)
    # A death from an older connection must not take down the node's current session.
    if node.boot == msg.boot and node.stream == msg.stream and node.online:
        _link_lost(session, sites[msg.site], node, "node stopped or connection lost (death)")


def apply(session: Session, sites: dict[str, Site], msg: wire.AnyMessage) -> Stored | None:
    """Store `msg` in the current transaction. Returns what to confirm, or None for a death."""
    if msg.site not in sites or msg.node not in sites[msg.site].nodes:
        raise Rejected(f"node {msg.site}/{msg.node} is not in any configured site file")
    if isinstance(msg, wire.Death):
        _apply_death(session, sites, msg)
        return None
    if not isinstance(msg, wire.Envelope):
        raise Rejected(f"a {msg.KIND.value} message is not something edges send")
    seen = session.scalar(
        select(StoredMessage.id).where(
            StoredMessage.site == msg.site,
            StoredMessage.node == msg.node,
            StoredMessage.stream == msg.stream,
            StoredMessage.seq == msg.seq,
        )
    )
    if seen is not None:
        return Stored(msg.site, msg.node, msg.stream, msg.seq, duplicate=True)
    session.add(
        StoredMessage(
            site=msg.site,
            node=msg.node,
            stream=msg.stream,
            seq=msg.seq,
            boot=msg.boot,
            kind=msg.KIND.value,
            source_ts=msg.ts,
            payload=msg.model_dump(mode="json"),
        )
    )
    node = _node(session, msg.site, msg.node)
    node.last_seen = utcnow()
    was_online = node.online
    if isinstance(msg, wire.Birth) and (msg.stream != node.stream or msg.boot >= node.boot):
        # A re-sent birth of an earlier connection must not move the boot back: the death
        # that matters is the one of the newest connection.
        node.online, node.boot, node.stream = True, msg.boot, msg.stream
        node.software, node.config_hash, node.last_birth = msg.software, msg.config_hash, utcnow()
    elif msg.stream == node.stream and msg.boot >= node.boot:
        node.online = True
    rebirth = False
    if node.online and not was_online:
        site = sites[msg.site]
        engine.on_node_link(session, site.id, site.nodes[msg.node], False, "data again", utcnow())
        # Its values were marked stale; only a birth brings every one of them up to date.
        rebirth = not isinstance(msg, wire.Birth)
    items = msg.points + msg.devices if isinstance(msg, wire.Birth) else getattr(msg, "items", [])
    if isinstance(msg, wire.Telemetry):
        items = msg.samples
    for item in items:
        if isinstance(item, wire.PointValue):
            _apply_point(session, sites, msg, item)
        elif isinstance(item, wire.CardTap):
            _apply_tap(session, sites, msg, item)
        elif isinstance(item, wire.Heartbeat):
            _apply_heartbeat(session, sites, msg, item)
        else:
            _apply_device(session, sites, msg, item)
    return Stored(msg.site, msg.node, msg.stream, msg.seq, duplicate=False, rebirth=rebirth)


def dead_letter(session: Session, topic: str, payload: bytes, reason: str) -> None:
    session.add(DeadLetter(topic=topic, payload=payload, reason=reason))
