"""The rows one ingest transaction reads and writes, loaded in a few bulk queries, not per message.

Storing a message touches its node, its points and devices, their open alarms and the positions
already stored. Loading those once per batch (and per node the first time it is needed) instead of
once per message is what lets one worker store thousands of messages a second. Nothing here
outlives its transaction, so several workers never act on each other's stale copies.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cloud import bulk, point_states
from cloud.alarms import lifecycle, versioned
from cloud.models import (
    AlarmRecord,
    DeviceRecord,
    EquipmentTag,
    NodeRecord,
    StoredMessage,
    utcnow,
)
from cloud.node_keys import NodeKey, of_nodes
from cloud.point_states import PointState
from cloud.telemetry import TelemetrySample, TelemetrySink
from sitewatch.siteconfig import Site

DeviceKey = tuple[str, str, str]  # site, node, device
PointKey = tuple[str, str, str, str]  # site, node, device, point (or an alarm's source)
Position = tuple[str, str, str, int]  # site, node, stream, seq
_POSITION = ("site", "node", "stream", "seq")  # the unique key of `messages`
# A no-op update of a stored node takes its row lock as a stored row's FOR UPDATE would.
_LOCK_NODES = text(
    "INSERT INTO nodes (site, node, online, boot) "
    "SELECT site, node, false, 0 FROM json_to_recordset(CAST(:rows AS json)) "
    "AS given(site TEXT, node TEXT) ORDER BY site, node "
    "ON CONFLICT (site, node) DO UPDATE SET node = EXCLUDED.node"
)

_NO_ALARMS: Mapping[str, AlarmRecord] = MappingProxyType({})

# Bound parameters per IN list: far below every backend's limit, large enough to be one query.
_CHUNK = 500


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class WorkingSet:
    """Nodes, points, devices, open alarms and stored positions of the nodes a batch touches."""

    def __init__(
        self,
        session: Session,
        sites: dict[str, Site] | None = None,
        telemetry: TelemetrySink | None = None,
    ) -> None:
        self.session = session
        self.sites = sites or {}
        self.telemetry = telemetry
        self._samples: list[TelemetrySample] = []
        # PostgreSQL: a batch locks its nodes' rows (see `_load`); SQLite has one database lock.
        self.locks_nodes = session.get_bind().dialect.name == "postgresql"
        self._loaded_nodes: set[NodeKey] = set()
        self._loaded_points: set[NodeKey] = set()
        self._loaded_devices: set[NodeKey] = set()
        self._loaded_alarms: set[NodeKey] = set()
        self._loaded_tags: set[NodeKey] = set()
        # The batch's time for `last_seen`: one clock reading, and one attribute change, a node.
        self.started_at = utcnow()
        self._tags: dict[DeviceKey, EquipmentTag] = {}
        self._nodes: dict[NodeKey, NodeRecord] = {}
        self._points: dict[NodeKey, dict[PointKey, PointState]] = defaultdict(dict)
        self._devices: dict[DeviceKey, DeviceRecord] = {}
        self._alarms: dict[PointKey, dict[str, AlarmRecord]] = defaultdict(dict)  # by condition
        self._checked: set[Position] = set()  # positions offered to the messages table
        # Messages `store.prepare` found acceptable, by id(): `apply` need not check them again
        # (they live as long as the batch they are in).
        self.accepted: set[int] = set()
        self._fresh: set[Position] = set()  # of those, inserted by us and not yet claimed

    # -- loading -------------------------------------------------------------------------

    def load(
        self,
        nodes: Iterable[NodeKey],
        points: bool = True,
        devices: bool = True,
        alarms: bool = True,
    ) -> None:
        """Load what storing these nodes' messages may touch; each table at most once a node."""
        keys = set(nodes)
        self._load(keys, self._loaded_nodes, NodeRecord, self._keep_node)
        if points:
            self._load_points(keys)
        if devices:
            self._load(keys, self._loaded_devices, DeviceRecord, self._keep_device)
        if alarms:
            self._load(keys, self._loaded_alarms, AlarmRecord, self._keep_alarm)

    def _load(self, keys: set[NodeKey], loaded: set[NodeKey], model: Any, keep: Any) -> None:
        if keys <= loaded:
            return
        wanted = sorted(keys - loaded)
        if not wanted:
            return
        loaded.update(wanted)
        for chunk in _chunks(wanted):
            query = select(model).where(of_nodes(model.site, model.node, chunk))
            if model is NodeRecord and self.locks_nodes:
                # Several workers: a node's rows change under one worker at a time. Nodes are
                # locked in key order, so two batches never wait on each other in a circle. The
                # ORDER BY is what orders the locks: without it PostgreSQL locks rows in the order
                # its scan meets them, which moves as rows are updated (seen as deadlocks).
                query = query.order_by(model.site, model.node).with_for_update()
            if model is EquipmentTag:
                query = query.where(EquipmentTag.removed_at.is_(None))
            for record in self.session.scalars(query):
                keep(record)

    def lock_nodes(self, keys: Iterable[NodeKey]) -> None:
        """PostgreSQL: lock these nodes' rows for the transaction, and load them. The nodes not
        stored yet are stored (offline, boot 0) by the same statement.

        One statement, in key order, for stored and new nodes alike. Two batches then always
        take their nodes in the same order, and a batch that waits for a node holds none after
        it: a SELECT ... FOR UPDATE followed by an INSERT of the nodes it did not find took
        them in two passes, and two workers deadlocked when a node was stored between the two.
        """
        wanted = sorted(set(keys))
        if not wanted:
            return
        rows = [{"site": site, "node": node} for site, node in wanted]
        self.session.execute(_LOCK_NODES, {"rows": json.dumps(rows)})
        self._loaded_nodes.difference_update(wanted)
        self._load(set(wanted), self._loaded_nodes, NodeRecord, self._keep_node)

    def _load_points(self, keys: set[NodeKey]) -> None:
        wanted = sorted(keys - self._loaded_points)
        if not wanted:
            return
        self._loaded_points.update(wanted)
        for chunk in _chunks(wanted):
            for state in point_states.load(self.session, chunk):
                self._points[(state.site, state.node)][state.key] = state

    def _keep_node(self, node: NodeRecord) -> None:
        self._nodes[(node.site, node.node)] = node

    def _keep_device(self, device: DeviceRecord) -> None:
        self._devices[(device.site, device.node, device.device)] = device

    def _keep_alarm(self, alarm: AlarmRecord) -> None:
        self._alarms[(alarm.site, alarm.node, alarm.device, alarm.point)][alarm.condition] = alarm

    def _keep_tag(self, tag: EquipmentTag) -> None:
        self._tags[(tag.site, tag.node, tag.device)] = tag

    def claim_all(self, rows: list[dict[str, Any]]) -> None:
        """Insert these `messages` rows now, skipping positions already stored, and remember
        which ones this batch stored first: `claim` then hands each of those out once.

        One INSERT ... ON CONFLICT DO NOTHING RETURNING for the batch instead of a SELECT per
        stream and an INSERT: the unique index answers the dedup question, and a position that
        a concurrent worker inserts (uncommitted) makes ours wait for its outcome, so two
        workers never both store one message.
        """
        fresh: list[dict[str, Any]] = []
        for row in rows:
            position = (row["site"], row["node"], row["stream"], row["seq"])
            if position not in self._checked:
                self._checked.add(position)
                fresh.append(row)
        if not fresh:
            return
        received_at = utcnow()
        for row in fresh:
            row.setdefault("received_at", received_at)
        table = StoredMessage.__table__
        for chunk in _chunks(fresh):
            for position in bulk.insert_new(self.session, table, chunk, _POSITION):
                self._fresh.add(position)  # type: ignore[arg-type]

    def claim(self, position: Position, row: Callable[[], dict[str, Any]]) -> bool:
        """True the first time a message's position is stored (this is the message to apply);
        False for a duplicate, stored before or earlier in this batch. A position that
        `claim_all` did not see is inserted now, as `row()`."""
        if position not in self._checked:
            self.claim_all([row()])
        if position in self._fresh:
            self._fresh.discard(position)
            return True
        return False

    # -- reading and changing ------------------------------------------------------------

    def node(self, site: str, node: str) -> NodeRecord:
        """The node's record, made (offline, boot 0) the first time the node is heard of."""
        # The accessors below check the loaded set first: they run for every value of every
        # message, and the answer is nearly always "loaded" (by `prepare`).
        if (site, node) not in self._loaded_nodes:
            self.load([(site, node)], points=False, devices=False, alarms=False)
        record = self._nodes.get((site, node))
        if record is None:
            record = NodeRecord(site=site, node=node, boot=0, online=False)
            self.session.add(record)
            self._nodes[(site, node)] = record
        return record

    def known_node(self, site: str, node: str) -> NodeRecord | None:
        """The node's record if it is loaded and stored; None otherwise (nothing is made)."""
        return self._nodes.get((site, node))

    def point(self, key: PointKey) -> PointState:
        """The point's state; a new one (not stored yet, no value) the first time it is heard of.
        Whatever moves it sets `changed`, and `flush` writes it back."""
        if key[:2] not in self._loaded_points:
            self._load_points({key[:2]})
        states = self._points[key[:2]]
        state = states.get(key)
        if state is None:
            state = states[key] = PointState(*key)
        return state

    def points_stale(self, site: str, node: str) -> None:
        """The node's link is lost: its points' values are stale, not current."""
        point_states.mark_stale(self.session, site, node, utcnow())
        for state in self._points.get((site, node), {}).values():
            state.quality = point_states.STALE

    def device(self, key: DeviceKey) -> DeviceRecord | None:
        if key[:2] not in self._loaded_devices:
            self.load([key[:2]], points=False, alarms=False)
        return self._devices.get(key)

    def add_device(self, record: DeviceRecord) -> None:
        self.session.add(record)
        self._devices[(record.site, record.node, record.device)] = record

    def alarms_of(self, source: PointKey) -> Mapping[str, AlarmRecord]:
        """Every alarm of the source by its condition, whatever its state (read only)."""
        if source[:2] not in self._loaded_alarms:
            self.load([source[:2]], points=False, devices=False)
        return self._alarms.get(source, _NO_ALARMS)

    def alarm(self, source: PointKey, condition: str) -> AlarmRecord | None:
        return self.alarms_of(source).get(condition)

    def tag(self, site: str, node: str, device: str) -> EquipmentTag | None:
        """The maintenance tag hanging on the device, if any."""
        # Only a new alarm asks (to start it held), which is rare: loaded on demand, a node at
        # a time, not with every batch.
        if (site, node) not in self._loaded_tags:
            self._load({(site, node)}, self._loaded_tags, EquipmentTag, self._keep_tag)
        return self._tags.get((site, node, device))

    def add_alarm(self, alarm: AlarmRecord) -> None:
        self.session.add(alarm)
        self._alarms[(alarm.site, alarm.node, alarm.device, alarm.point)][alarm.condition] = alarm

    def add_sample(self, sample: TelemetrySample) -> None:
        self._samples.append(sample)

    def flush(self) -> None:
        """Write what the batch changed: alarms and points in a statement each, then the rest."""
        # First, and with no autoflush: any other statement would flush the alarms one by one.
        alarms = (
            alarm for by_condition in self._alarms.values() for alarm in by_condition.values()
        )
        versioned.write_changed(self.session, alarms)
        with self.session.no_autoflush:
            if self.telemetry is not None and self._samples:
                self.telemetry.store(self.session, self._samples)
            self._samples = []
            changed = (state for states in self._points.values() for state in states.values())
            point_states.write(self.session, changed, utcnow())
        self.session.flush()
        # The flush wrote them unless it found nothing else to do (the alarms above are written).
        lifecycle.write_pending_lines(self.session)
