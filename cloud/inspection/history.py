"""A node's week as the edges reported it: every point's changes, each device's online state, and
the stretches when nothing arrived at all, read back from the stored messages.

The messages table is the record of what happened (kept at least a year); a report reads it
rather than a second copy. The value a point had when the week began is the last one reported
before, found from the newest birth (which carries every point) onwards.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.engine import source_time
from cloud.models import StoredMessage
from cloud.store import silence_limit_s
from sitewatch.siteconfig import Site

LOOKBACK = timedelta(days=30)  # older than this, a point's value at the start is unknown
KINDS = ("birth", "event", "alarm")

PointKey = tuple[str, str]  # device, point


@dataclass
class NodeWeek:
    start: datetime
    end: datetime
    before: dict[PointKey, Any] = field(default_factory=dict)  # the value when the week began
    changes: dict[PointKey, list[tuple[datetime, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    offline: dict[str, list[tuple[datetime, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    silent: list[tuple[datetime, datetime]] = field(default_factory=list)  # nothing arrived

    def gaps(self, device: str) -> list[tuple[datetime, datetime]]:
        """When this device's values are not known: the node silent, or the device offline."""
        return sorted(self.silent + self.offline.get(device, []))


def _first_ms(session: Session, site: str, node: str, start: datetime) -> int:
    """Where reading must begin to know every point's value at `start`: the newest birth."""
    floor = int((start - LOOKBACK).timestamp() * 1000)
    newest_birth = session.scalar(
        select(StoredMessage.source_ts)
        .where(
            StoredMessage.site == site,
            StoredMessage.node == node,
            StoredMessage.kind == "birth",
            StoredMessage.source_ts < int(start.timestamp() * 1000),
            StoredMessage.source_ts >= floor,
        )
        .order_by(StoredMessage.source_ts.desc())
        .limit(1)
    )
    return newest_birth if newest_birth is not None else floor


def node_week(session: Session, site: Site, node: str, start: datetime, end: datetime) -> NodeWeek:
    week = NodeWeek(start, end)
    limit = timedelta(seconds=silence_limit_s(site.nodes[node].heartbeat_s))
    rows = session.execute(
        select(StoredMessage.source_ts, StoredMessage.payload)
        .where(
            StoredMessage.site == site.id,
            StoredMessage.node == node,
            StoredMessage.kind.in_(KINDS),
            StoredMessage.source_ts >= _first_ms(session, site.id, node, start),
            StoredMessage.source_ts < int(end.timestamp() * 1000),
        )
        .order_by(StoredMessage.source_ts, StoredMessage.seq)
    )
    heard: list[datetime] = []
    went_offline: dict[str, datetime] = {}
    for source_ts, payload in rows:
        at = source_time(source_ts)
        if at >= start:
            heard.append(at)
        items = payload.get("points", []) + payload.get("devices", []) + payload.get("items", [])
        for item in items:
            kind, ts = item.get("type"), source_time(item.get("ts", source_ts))
            if kind == "point" and item.get("quality", "good") == "good":
                key = (item["device"], item["point"])
                if ts < start:
                    week.before[key] = item["value"]
                else:
                    week.changes[key].append((ts, item["value"]))
            elif kind == "device":
                device = item["device"]
                if not item["online"]:
                    went_offline.setdefault(device, max(ts, start))
                elif device in went_offline:
                    since = went_offline.pop(device)
                    if ts > start:
                        week.offline[device].append((since, ts))
    for device, since in went_offline.items():
        week.offline[device].append((since, end))
    if not heard:
        week.silent = [(start, end)]
    else:
        for before, after in itertools.pairwise([start, *heard, end]):
            if after - before > limit:
                week.silent.append((before, after))
    for changes in week.changes.values():
        changes.sort(key=lambda change: change[0])
    return week
