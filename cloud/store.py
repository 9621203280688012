"""Apply one validated wire message to the database: dedup, node/device/point state, alarms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms import engine
from cloud.alarms.rules import Sample
from cloud.gates import passes as gates
from cloud.models import (
    CardReadRecord,
    DeadLetter,
    DeviceRecord,
    NodeRecord,
    utcnow,
)
from cloud.node_keys import of_nodes
from cloud.patrol import tours as patrol
from cloud.point_states import PointState
from cloud.telemetry import TelemetrySample
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site


class Rejected(Exception):
    """The message is well-formed but not acceptable here (e.g. an unknown node)."""


class Stored(NamedTuple):
    """What happened to a message: the position to confirm, and whether it was new. (A named
    tuple: one is made for every message.)"""

    site: str
    node: str
    stream: str
    seq: int
    duplicate: bool
    rebirth: bool = False  # the node came back without a birth: ask it for one


def _items(msg: wire.Envelope) -> Sequence[Any]:
    if isinstance(msg, wire.Event):  # nearly every message: its own list, not a copy
        return msg.items
    if isinstance(msg, wire.Birth):
        return [*msg.points, *msg.devices]
    if isinstance(msg, wire.Telemetry):
        return msg.samples
    return list(getattr(msg, "items", []))


def check(sites: dict[str, Site], msg: wire.AnyMessage) -> None:
    """Refuse what this cloud cannot accept, before anything of the message is applied."""
    if msg.site not in sites or msg.node not in sites[msg.site].nodes:
        raise Rejected(f"node {msg.site}/{msg.node} is not in any configured site file")
    if isinstance(msg, wire.Death):
        return
    if not isinstance(msg, wire.Envelope):
        raise Rejected(f"a {msg.KIND.value} message is not something edges send")
    site = sites[msg.site]
    for item in _items(msg):
        if isinstance(item, wire.PointValue):
            device = site.device(msg.node, item.device)
            if device is None or item.point not in device.points:
                raise Rejected(
                    f"point {item.device}.{item.point} is not configured on node {msg.node}"
                )
        elif isinstance(item, wire.DeviceStatus):
            if site.device(msg.node, item.device) is None:
                raise Rejected(f"device {item.device} is not configured on node {msg.node}")
        elif isinstance(item, wire.CardTap) and item.reader not in site.nodes[msg.node].readers:
            raise Rejected(f"reader {item.reader} is not configured on node {msg.node}")
        elif isinstance(item, wire.GatePass) and (why := gates.check_pass(site, msg.node, item)):
            raise Rejected(why)


def _is_number(value: wire.Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_newer(point: PointState, stream: str, seq: int) -> bool:
    # A new stream means a new outbox (a replaced SD card); its messages are the newest we know.
    # An equal seq is a later item of the same message (a pulse's fall after its rise): it wins.
    return point.stream != stream or seq >= point.seq  # type: ignore[operator]


_GOOD = wire.Quality.GOOD


def _apply_point(work: WorkingSet, site: Site, msg: wire.Envelope, value: wire.PointValue) -> None:
    site_id, node, stream, seq = msg.site, msg.node, msg.stream, msg.seq
    device_id, point, reading, ts, quality = (
        value.device,
        value.point,
        value.value,
        value.ts,
        value.quality,
    )
    good = quality is _GOOD
    if good and _is_number(reading):
        # Trends keep every reading, also one that arrives after a newer one (a replay).
        work.add_sample(TelemetrySample(site_id, node, device_id, point, ts, float(reading)))  # type: ignore[arg-type]
    state = work.point((site_id, node, device_id, point))
    if state.stream is not None and not _is_newer(state, stream, seq):
        if good and state.source_ts is not None:
            device = site.nodes[node].devices[device_id]
            engine.on_late_point_value(
                work, site_id, device, point, Sample(reading, ts), state.source_ts
            )
        return
    previous = None
    if state.quality == _GOOD.value and state.source_ts is not None:
        previous = Sample(state.value, state.source_ts)
    state.value, state.source_ts, state.seq, state.stream = reading, ts, seq, stream
    state.quality, state.changed = quality.value, True
    if good:
        device = site.nodes[node].devices[device_id]
        engine.on_point_value(work, site_id, device, point, Sample(reading, ts), previous)


def _apply_device(
    work: WorkingSet, site: Site, msg: wire.Envelope, status: wire.DeviceStatus
) -> None:
    device = site.nodes[msg.node].devices[status.device]
    key = (msg.site, msg.node, status.device)
    record = work.device(key)
    if record is None:
        record = DeviceRecord(site=msg.site, node=msg.node, device=status.device)
        work.add_device(record)
    elif record.stream == msg.stream and record.seq is not None and msg.seq < record.seq:
        return  # an older report, re-sent: the device's state has moved on since
    record.online, record.reason, record.changed_at = status.online, status.reason, utcnow()
    record.stream, record.seq = msg.stream, msg.seq
    engine.on_device_status(
        work, msg.site, device, status.online, status.reason, engine.source_time(status.ts)
    )


def _apply_tap(work: WorkingSet, msg: wire.Envelope, tap: wire.CardTap) -> None:
    work.session.add(
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


def _link_lost(work: WorkingSet, site: Site, node: NodeRecord, reason: str) -> None:
    """The node's values are stale, not normal, and the control room gets a link trouble."""
    node.online = False
    work.points_stale(node.site, node.node)
    engine.on_node_link(work, site.id, site.nodes[node.node], True, reason, utcnow())


def silence_limit_s(heartbeat_s: int) -> float:
    """How long a node may be silent: two heartbeats and some slack, and never past the 100 s
    in which GB 26875 wants a lost link reported (the supervisor checks every few seconds)."""
    return min(2 * heartbeat_s + 10, 90)


def _silence(
    sites: dict[str, Site],
    key: tuple[str, str],
    last_seen: datetime | None,
    now: datetime,
    watching_since: datetime | None,
) -> str | None:
    """Why the node counts as silent now, or None if it does not (or is not configured)."""
    site = sites.get(key[0])
    if site is None or key[1] not in site.nodes or last_seen is None:
        return None
    limit = silence_limit_s(site.nodes[key[1]].heartbeat_s)
    heard = max(last_seen, watching_since) if watching_since else last_seen
    silent = (now - heard).total_seconds()
    return f"silent for {silent:.0f} s (limit {limit:.0f} s)" if silent > limit else None


def supervise(
    session: Session, sites: dict[str, Site], now: datetime, watching_since: datetime | None = None
) -> list[str]:
    """Mark nodes that went silent; returns their names. Run on a clock, not on messages.

    `watching_since`: when this cloud began listening. Silence before that is the cloud's own
    outage, not the node's, and the node's backlog is still on its way.
    """
    online = select(NodeRecord.site, NodeRecord.node, NodeRecord.last_seen).where(
        NodeRecord.online.is_(True)
    )
    silent = sorted(
        (site, node)
        for site, node, last_seen in session.execute(online)
        if _silence(sites, (site, node), last_seen, now, watching_since)
    )
    if not silent:
        return []
    work = WorkingSet(session, sites)
    if work.locks_nodes:
        # As an ingest batch takes them: the node rows first, in key order, and only then their
        # points and alarms. Holding a node's points while a batch held the node deadlocked.
        work.lock_nodes(silent)
    else:
        work.load(silent, points=False, devices=False, alarms=False)
    lost = []
    for key in silent:
        node = work.known_node(*key)
        # Asked again of the row as it is now: a batch may have heard from the node meanwhile.
        why = _silence(sites, key, node.last_seen, now, watching_since) if node else None
        if node is not None and node.online and why is not None:
            _link_lost(work, sites[key[0]], node, why)
            lost.append(f"{key[0]}/{key[1]}")
    work.flush()
    return lost


def _apply_heartbeat(
    work: WorkingSet, site: Site, msg: wire.Envelope, beat: wire.Heartbeat
) -> None:
    node = work.node(msg.site, msg.node)
    node.last_heartbeat = engine.source_time(beat.ts)
    config = site.nodes[msg.node]
    engine.on_node_disk(work, site.id, config, beat.disk_over_budget, utcnow())
    if beat.cards_version:  # a gate: the list it runs (normally told by its CardListLoaded)
        gates.record_list_loaded(
            work, site, msg.node, beat.cards_version, engine.source_time(beat.ts), None
        )
    if beat.clock_offset_ms is not None:
        node.clock_offset_ms = beat.clock_offset_ms
        engine.on_node_clock(work, site.id, config, beat.clock_offset_ms, utcnow())


def _apply_death(work: WorkingSet, site: Site, msg: wire.Death) -> None:
    node = work.node(msg.site, msg.node)
    # A death from an older connection must not take down the node's current session.
    if node.boot == msg.boot and node.stream == msg.stream and node.online:
        _link_lost(work, site, node, "node stopped or connection lost (death)")


def _apply_node(work: WorkingSet, site: Site, msg: wire.Envelope) -> bool:
    """Move the node's session state; True if it came back without a birth (ask for one)."""
    node = work.node(msg.site, msg.node)
    if node.last_seen != work.started_at:
        node.last_seen = work.started_at
    was_online = node.online
    if isinstance(msg, wire.Birth) and (msg.stream != node.stream or msg.boot >= node.boot):
        # A re-sent birth of an earlier connection must not move the boot back: the death
        # that matters is the one of the newest connection.
        node.online, node.boot, node.stream, node.boot_seq = True, msg.boot, msg.stream, msg.seq
        node.software, node.config_hash, node.last_birth = msg.software, msg.config_hash, utcnow()
    elif msg.stream == node.stream and msg.boot >= node.boot and not was_online:
        node.online = True
    if node.online and not was_online:
        engine.on_node_link(work, site.id, site.nodes[msg.node], False, "data again", utcnow())
        # Its values were marked stale; only a birth brings every one of them up to date.
        return not isinstance(msg, wire.Birth)
    return False


def _check_boot(stream: str | None, boot: int, boot_seq: int | None, msg: wire.Envelope) -> None:
    """A stream's boot never goes back: a message written after boot N began (a higher seq than
    its birth) cannot carry an earlier boot. Only a forged or corrupted message does."""
    if stream == msg.stream and boot_seq is not None and msg.boot < boot and msg.seq > boot_seq:
        raise Rejected(
            f"boot {msg.boot} goes backwards: seq {msg.seq} of stream {msg.stream} comes after "
            f"boot {boot} began at seq {boot_seq}"
        )


def _boots(work: WorkingSet, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Each node's stream, boot and boot's first seq, read without loading (or locking) its row:
    enough to refuse a boot going backwards before any position is stored."""
    if not keys:
        return {}
    rows = work.session.execute(
        select(
            NodeRecord.site,
            NodeRecord.node,
            NodeRecord.stream,
            NodeRecord.boot,
            NodeRecord.boot_seq,
        ).where(of_nodes(NodeRecord.site, NodeRecord.node, sorted(keys)))
    )
    return {(site, node): (stream, boot, boot_seq) for site, node, stream, boot, boot_seq in rows}


def message_row(msg: wire.Envelope, raw: bytes | None) -> dict[str, Any]:
    """The `messages` row of an envelope; `raw` (the bytes as received) is kept verbatim."""
    return {
        "site": msg.site,
        "node": msg.node,
        "stream": msg.stream,
        "seq": msg.seq,
        "boot": msg.boot,
        "kind": msg.KIND.value,
        "source_ts": msg.ts,
        "payload": raw.decode() if raw is not None else msg.model_dump_json(),
    }


def prepare(
    work: WorkingSet, sites: dict[str, Site], messages: list[tuple[wire.AnyMessage, bytes | None]]
) -> None:
    """Load in bulk what storing these messages will touch, and store the positions of those
    this cloud accepts in one statement (optional: `apply` does both per message otherwise)."""
    nodes = {(m.site, m.node) for m, _ in messages}
    if work.locks_nodes:
        # PostgreSQL: lock (and load) every configured node of the batch first, in one pass
        # (see WorkingSet.lock_nodes), and take their boots from them.
        work.lock_nodes(key for key in nodes if key[0] in sites and key[1] in sites[key[0]].nodes)
        boots = {
            key: (node.stream, node.boot, node.boot_seq)
            for key in nodes
            if (node := work.known_node(*key)) is not None
        }
    else:
        boots = _boots(work, nodes)
    # One pass over the batch (thousands of messages a second): accept, and note what to load.
    rows: list[dict[str, Any]] = []
    with_values: set[tuple[str, str]] = set()
    for msg, raw in messages:
        if not isinstance(msg, wire.Envelope):
            continue
        key = (msg.site, msg.node)
        try:
            check(sites, msg)
            if key in boots:
                _check_boot(*boots[key], msg)
        except Rejected:
            continue  # apply() dead-letters it; its position must not be stored
        work.accepted.add(id(msg))
        rows.append(message_row(msg, raw))
        if key not in with_values and any(type(i) is wire.PointValue for i in _items(msg)):
            with_values.add(key)
    if not work.locks_nodes:
        # SQLite: pysqlite begins the transaction, and SQLite takes its one write lock, at the
        # first write. Writing the positions first puts every read below under that lock, so
        # another worker cannot change these rows between our read and our write.
        work.claim_all(rows)
    work.load(nodes, points=False, devices=False, alarms=False)
    work.load(with_values, devices=False)
    # PostgreSQL: after the nodes' rows are locked (in `load`), so that of two workers storing
    # the same position, the one that waits for the other does not hold locks it needs.
    work.claim_all(rows)


def apply(
    work: WorkingSet, sites: dict[str, Site], msg: wire.AnyMessage, raw: bytes | None = None
) -> Stored | None:
    """Store `msg` in the working set's transaction. Returns what to confirm, or None for a death.

    `raw`: the payload `msg` was decoded from, kept as received. Raises `Rejected`, with nothing
    of the message applied, if this cloud cannot accept it.
    """
    if id(msg) not in work.accepted:
        check(sites, msg)
    site = sites[msg.site]
    if isinstance(msg, wire.Death):
        _apply_death(work, site, msg)
        return None
    assert isinstance(msg, wire.Envelope)  # check() refused everything else
    if id(msg) not in work.accepted:
        node = work.node(msg.site, msg.node)
        _check_boot(node.stream, node.boot, node.boot_seq, msg)
    position = (msg.site, msg.node, msg.stream, msg.seq)
    if not work.claim(position, lambda: message_row(msg, raw)):
        return Stored(msg.site, msg.node, msg.stream, msg.seq, duplicate=True)
    rebirth = _apply_node(work, site, msg)
    for item in _items(msg):
        if isinstance(item, wire.PointValue):
            _apply_point(work, site, msg, item)
        elif isinstance(item, wire.CardTap):
            _apply_tap(work, msg, item)
            patrol.on_tap(work, site, msg.node, item)
        elif isinstance(item, wire.Heartbeat):
            _apply_heartbeat(work, site, msg, item)
        elif isinstance(item, wire.GatePass):
            gates.record_pass(work, site, msg.node, item)
        elif isinstance(item, wire.CardListLoaded):
            gates.on_list_loaded(work, site, msg.node, item)
        else:
            _apply_device(work, site, msg, item)
    return Stored(msg.site, msg.node, msg.stream, msg.seq, duplicate=False, rebirth=rebirth)


def apply_one(session: Session, sites: dict[str, Site], msg: wire.AnyMessage) -> Stored | None:
    """`apply` for a single message, in the session's transaction."""
    work = WorkingSet(session, sites)
    stored = apply(work, sites, msg)
    work.flush()
    return stored


def dead_letter(session: Session, topic: str, payload: bytes, reason: str) -> None:
    session.add(DeadLetter(topic=topic, payload=payload, reason=reason))
