"""Points' latest values as ingest moves them: plain objects, read and written a batch at a time.

A point's row changes with nearly every message. As an ORM object every change of an attribute
costs an event and the flush compares every column, which made points the largest share of the
writer's work. Here a batch reads its nodes' points in one query, moves them in memory, and
writes each changed one back once, in one executemany UPDATE by the points' unique key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from cloud import bulk
from cloud.models import PointRecord
from cloud.node_keys import of_nodes

_POINTS = PointRecord.__table__
_KEY = ("site", "node", "device", "point")
_STATE = ("value", "quality", "source_ts", "stream", "seq")
STALE = "stale"


@dataclass(slots=True, eq=False)
class PointState:
    """A point's stored value, quality and the position `(stream, seq)` that last moved it."""

    site: str
    node: str
    device: str
    point: str
    value: Any = None
    quality: str | None = None
    source_ts: int | None = None
    stream: str | None = None
    seq: int | None = None
    stored: bool = False  # a row exists: an update, not an insert
    changed: bool = False  # to be written back

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.site, self.node, self.device, self.point)


def load(session: Session, nodes: Sequence[tuple[str, str]]) -> Iterable[PointState]:
    """The stored points of these nodes (site, node)."""
    columns = [_POINTS.c[name] for name in (*_KEY, *_STATE)]
    query = select(*columns).where(of_nodes(_POINTS.c.site, _POINTS.c.node, nodes))
    for row in session.execute(query):
        yield PointState(*row, stored=True)


def mark_stale(session: Session, site: str, node: str, at: datetime) -> None:
    """Every point of the node is stale now (its link is lost). Only the quality is written: a
    batch of another worker may be moving the values at the same time."""
    statement = (
        update(_POINTS)
        .where(_POINTS.c.site == site, _POINTS.c.node == node)
        .values(quality=STALE, updated_at=at)
    )
    session.execute(statement)


_UPDATE = (
    update(_POINTS)
    .where(and_(*(_POINTS.c[name] == bindparam(f"k_{name}") for name in _KEY)))
    .values({name: bindparam(name) for name in (*_STATE, "updated_at")})
)


def write(session: Session, states: Iterable[PointState], at: datetime) -> None:
    """Write back the points that changed: new ones inserted, the others updated by key."""
    new: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for state in states:
        if not state.changed:
            continue
        values = {name: getattr(state, name) for name in _STATE}
        values["updated_at"] = at
        if state.stored:
            moved.append(values | {f"k_{name}": getattr(state, name) for name in _KEY})
        else:
            new.append(values | {name: getattr(state, name) for name in _KEY})
        state.stored, state.changed = True, False
    if new:
        # A point another worker inserted first fails the unique key: the batch is stored again
        # and then finds it (see BatchWriter._write_racing).
        bulk.insert(session, _POINTS, new)
    if moved:
        session.execute(_UPDATE, moved)
