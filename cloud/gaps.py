"""Gaps in the `seq` of a node's streams, computed from what the store holds.

The edge publishes fire alarms ahead of its backlog and replays the backlog after an outage, so
seqs routinely arrive out of order: a hole seen on arrival is usually filled a moment later.
A gap is therefore computed when asked for, never flagged on arrival: it is a maximal range of
seqs between 1 and the highest stored seq of a stream that the store does not hold. Every such
range is reported with `since`, the time the first stored message after it was received (when
the cloud could first know of it); the caller decides from its age whether it is still expected.

A dead-lettered message was confirmed to the edge and will never be stored, so its position is
not a gap. Dead letters carry no position columns: their positions are parsed from the raw topic
and payload with `wire.position_hint`, only for the node asked about and only when it has gaps.
A `(site, node, stream, seq)` column on the dead-letter table would let this be plain SQL.
Seqs that retention pruned (up to the stream's floor) are not gaps either.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.models import DeadLetter, StoredMessage, StreamFloor
from sitewatch import wire


@dataclass(frozen=True)
class StreamStats:
    """What the store holds of one stream: its highest seq, how many rows, its newest row id."""

    site: str
    node: str
    stream: str
    highest_seq: int
    stored: int
    last_id: int

    @property
    def contiguous(self) -> bool:
        # seqs are unique per stream and start at 1, so count == max means 1..max are all there.
        return self.stored == self.highest_seq


@dataclass(frozen=True)
class Gap:
    """The inclusive range `first_missing..last_missing` of a stream that the store lacks."""

    site: str
    node: str
    stream: str
    first_missing: int
    last_missing: int
    since: datetime

    @property
    def count(self) -> int:
        return self.last_missing - self.first_missing + 1

    def age_s(self, now: datetime) -> float:
        return max((now - self.since).total_seconds(), 0.0)


@dataclass(frozen=True)
class StreamGaps:
    """One stream with its gaps (dead-lettered positions already taken out)."""

    stats: StreamStats
    gaps: list[Gap]

    @property
    def missing(self) -> int:
        return sum(gap.count for gap in self.gaps)


def streams(
    session: Session, site: str | None = None, node: str | None = None
) -> list[StreamStats]:
    """Every stream of the store (or of one site/node), the most recently active first.

    "Most recently active" is the stream whose newest row was inserted last (the highest id):
    unlike `received_at` it cannot tie, and on SQLite this reads the unique index alone.
    """
    query = select(
        StoredMessage.site,
        StoredMessage.node,
        StoredMessage.stream,
        func.max(StoredMessage.seq),
        func.count(),
        func.max(StoredMessage.id),
    ).group_by(StoredMessage.site, StoredMessage.node, StoredMessage.stream)
    if site is not None:
        query = query.where(StoredMessage.site == site)
    if node is not None:
        query = query.where(StoredMessage.node == node)
    return sorted(
        (StreamStats(*row) for row in session.execute(query)),
        key=lambda stats: stats.last_id,
        reverse=True,
    )


def current_streams(session: Session) -> dict[tuple[str, str], StreamStats]:
    """Per `(site, node)`, its most recently active stream."""
    current: dict[tuple[str, str], StreamStats] = {}
    for stats in streams(session):  # newest first: the first seen per node wins
        current.setdefault((stats.site, stats.node), stats)
    return current


def _missing_ranges(session: Session, stats: StreamStats) -> list[Gap]:
    """The holes of one stream, found in SQL: each stored seq against the one before it.

    The window reads only the `(site, node, stream, seq)` unique index; just the rows right
    after a hole are looked up again for their arrival time. It still visits every row of the
    stream, which is why callers skip streams whose count already equals their highest seq.
    """
    of_stream = (
        StoredMessage.site == stats.site,
        StoredMessage.node == stats.node,
        StoredMessage.stream == stats.stream,
    )
    previous = func.lag(StoredMessage.seq).over(order_by=StoredMessage.seq)
    ordered = (
        select(StoredMessage.seq.label("seq"), func.coalesce(previous, 0).label("previous"))
        .where(*of_stream)
        .subquery()
    )
    holes = (
        select(ordered.c.seq, ordered.c.previous)
        .where(ordered.c.seq - ordered.c.previous > 1)
        .subquery()
    )
    query = (
        select(holes.c.previous + 1, holes.c.seq - 1, StoredMessage.received_at)
        .join(StoredMessage, StoredMessage.seq == holes.c.seq)
        .where(*of_stream)
        .order_by(holes.c.seq)
    )
    return [
        Gap(stats.site, stats.node, stats.stream, first, last, since)
        for first, last, since in session.execute(query)
    ]


def dead_lettered(session: Session, site: str, node: str) -> dict[str, set[int]]:
    """Per stream, the seqs of `site/node` that were dead-lettered (and so confirmed).

    Parses every dead letter whose topic names the node, in Python: acceptable while dead
    letters are rare. A position column on `dead_letters`, written by ingest, would be better.
    """
    prefix = f"{wire.TOPIC_ROOT}/{site}/{node}/"
    positions: dict[str, set[int]] = defaultdict(set)
    rows = session.execute(
        select(DeadLetter.topic, DeadLetter.payload).where(
            DeadLetter.topic.startswith(prefix, autoescape=True)
        )
    )
    for topic, payload in rows:
        hint = wire.position_hint(topic, payload)
        if hint is not None and hint[:2] == (site, node):
            positions[hint[2]].add(hint[3])
    return positions


def _without(gap: Gap, excluded: list[int]) -> list[Gap]:
    """`gap` with the excluded seqs (sorted) taken out: it may shrink, split or vanish."""
    low = bisect_left(excluded, gap.first_missing)
    inside = excluded[low : bisect_right(excluded, gap.last_missing, lo=low)]
    pieces, start = [], gap.first_missing
    for seq in [*inside, gap.last_missing + 1]:
        if seq > start:
            pieces.append(Gap(gap.site, gap.node, gap.stream, start, seq - 1, gap.since))
        start = seq + 1
    return pieces


def _pruned_through(session: Session, stats: StreamStats) -> int:
    """Seqs up to here were stored once and pruned by retention: they are not gaps."""
    floor = session.scalar(
        select(StreamFloor.pruned_through).where(
            StreamFloor.site == stats.site,
            StreamFloor.node == stats.node,
            StreamFloor.stream == stats.stream,
        )
    )
    return floor or 0


def stream_gaps(
    session: Session, stats: StreamStats, excluded: dict[str, set[int]] | None = None
) -> StreamGaps:
    """The gaps of one stream. `excluded` (dead-lettered seqs per stream) is looked up if None
    and only when the stream has a hole at all."""
    if stats.contiguous:
        return StreamGaps(stats, [])
    floor = _pruned_through(session, stats)
    holes = [
        Gap(
            hole.site,
            hole.node,
            hole.stream,
            max(hole.first_missing, floor + 1),
            hole.last_missing,
            hole.since,
        )
        for hole in _missing_ranges(session, stats)
        if hole.last_missing > floor
    ]
    if excluded is None:
        excluded = dead_lettered(session, stats.site, stats.node)
    known = sorted(excluded.get(stats.stream, ()))
    return StreamGaps(stats, [piece for hole in holes for piece in _without(hole, known)])


def node_gaps(session: Session, site: str, node: str) -> list[Gap]:
    """Every gap of every stream of one node: the newest stream first, then by seq."""
    result: list[Gap] = []
    excluded: dict[str, set[int]] | None = None
    for stats in streams(session, site, node):
        if stats.contiguous:
            continue
        if excluded is None:
            excluded = dead_lettered(session, site, node)
        result.extend(stream_gaps(session, stats, excluded).gaps)
    return result
