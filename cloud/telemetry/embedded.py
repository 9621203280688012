"""Telemetry without InfluxDB: raw rows for 48 h, then 1-minute min/avg/max rows, read as one trend."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cloud import bulk
from cloud.telemetry import Point, TelemetrySample
from cloud.telemetry.tables import MinuteSample, RawSample

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
RAW_HOURS = 48.0
ROLL_ROWS = 20_000  # raw rows rolled per transaction: bounded locks and memory
_IN_CHUNK = 500  # bound parameters per IN list


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; telemetry times are aware UTC")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def finite(samples: Iterable[TelemetrySample]) -> list[TelemetrySample]:
    """NaN and infinities are no trend (and InfluxDB refuses them): they are left out."""
    return [sample for sample in samples if math.isfinite(sample.value)]


def sample_rows(samples: Iterable[TelemetrySample]) -> list[dict[str, object]]:
    """Rows for `telemetry_raw` or `telemetry_parked`, finite samples only."""
    return [sample._asdict() for sample in finite(samples)]


class EmbeddedSink:
    """Writes each sample as a raw row, in the ingest transaction."""

    def store(self, session: Session, samples: list[TelemetrySample]) -> None:
        # Not `insert(RawSample)`: the ORM's bulk path costs more than the statement itself at
        # this rate. The samples are the rows already: a sample's fields are the table's columns.
        rows = finite(samples)
        bulk.insert_tuples(session, RawSample.__table__, TelemetrySample._fields, rows)


@dataclass(frozen=True)
class Rolled:
    """What one downsampler run did."""

    raw_rows: int
    minutes: int


Key = tuple[str, str, str, str, int]  # site, node, device, point, bucket


class Downsampler:
    """Rolls raw rows older than `raw_hours` into their minutes and deletes them.

    Each chunk is one transaction that merges into the minute rows and deletes exactly the raw
    rows it read (by id), so a crash rolls the chunk back whole, a reading that arrives late
    is merged into its minute on the next run, and running again changes nothing.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        raw_hours: float = RAW_HOURS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.raw_hours = raw_hours
        self.now = now

    def cutoff_ms(self) -> int:
        """Raw rows before this (a minute boundary) are rolled up."""
        cutoff = to_ms(self.now() - timedelta(hours=self.raw_hours))
        return cutoff - cutoff % MINUTE_MS

    def run(self) -> Rolled:
        started = time.monotonic()
        cutoff = self.cutoff_ms()
        raw_rows = minutes = 0
        while True:
            with self.sessions.begin() as session:
                rows, touched = self._roll_chunk(session, cutoff)
            raw_rows += rows
            minutes += touched
            if rows < ROLL_ROWS:
                break
        if raw_rows:
            log.info(
                "telemetry downsampler: rolled %d raw rows before %s into %d minute rows in %.1f s",
                raw_rows,
                from_ms(cutoff).isoformat(),
                minutes,
                time.monotonic() - started,
            )
        else:
            log.debug("telemetry downsampler: nothing older than %s", from_ms(cutoff).isoformat())
        return Rolled(raw_rows, minutes)

    def _roll_chunk(self, session: Session, cutoff: int) -> tuple[int, int]:
        query = (
            select(
                RawSample.id,
                RawSample.site,
                RawSample.node,
                RawSample.device,
                RawSample.point,
                RawSample.ts,
                RawSample.value,
            )
            .where(RawSample.ts < cutoff)
            .order_by(RawSample.id)
            .limit(ROLL_ROWS)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Two downsamplers (two cloud processes) never count the same raw row twice.
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return 0, 0
        buckets: dict[Key, list[float]] = {}
        for _, site, node, device, point, ts, value in rows:
            key = (site, node, device, point, ts - ts % MINUTE_MS)
            found = buckets.get(key)
            if found is None:
                buckets[key] = [value, value, value, 1]  # min, sum, max, count
            else:
                found[0] = min(found[0], value)
                found[1] += value
                found[2] = max(found[2], value)
                found[3] += 1
        self._merge(session, buckets)
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), _IN_CHUNK):
            session.execute(
                delete(RawSample).where(RawSample.id.in_(ids[start : start + _IN_CHUNK]))
            )
        return len(rows), len(buckets)

    @staticmethod
    def _merge(session: Session, buckets: dict[Key, list[float]]) -> None:
        """Add the chunk's minutes to the minute rows already there (a late reading, or a
        minute split between two chunks)."""
        # A point's minutes of the chunk, read as a range of its primary key: a row-value IN
        # list of keys (one query) makes SQLite scan the whole minute table, which grows by a
        # row a point a minute, for every 500 keys.
        spans: dict[tuple[str, str, str, str], tuple[int, int]] = {}
        for site, node, device, point, bucket in buckets:
            first, last = spans.get((site, node, device, point), (bucket, bucket))
            spans[(site, node, device, point)] = (min(first, bucket), max(last, bucket))
        existing: dict[Key, MinuteSample] = {}
        for (site, node, device, point), (first, last) in spans.items():
            query = select(MinuteSample).where(
                MinuteSample.site == site,
                MinuteSample.node == node,
                MinuteSample.device == device,
                MinuteSample.point == point,
                MinuteSample.bucket.between(first, last),
            )
            for row in session.scalars(query):
                key = (row.site, row.node, row.device, row.point, row.bucket)
                if key in buckets:
                    existing[key] = row
        new: list[dict[str, object]] = []
        for key, (low, total, high, count) in buckets.items():
            row = existing.get(key)
            if row is None:
                site, node, device, point, bucket = key
                new.append(
                    {
                        "site": site,
                        "node": node,
                        "device": device,
                        "point": point,
                        "bucket": bucket,
                        "min": low,
                        "avg": total / count,
                        "max": high,
                        "count": int(count),
                    }
                )
                continue
            merged = row.count + int(count)
            row.avg = (row.avg * row.count + total) / merged
            row.min, row.max, row.count = min(row.min, low), max(row.max, high), merged
        if new:
            session.execute(insert(MinuteSample), new)


class SqlTelemetryReader:
    """Reads the raw rows and the minute rows of the embedded tables as one trend."""

    def __init__(self, sessions: sessionmaker[Session], max_points: int = 100_000) -> None:
        self.sessions = sessions
        self.max_points = max_points  # a chart's worth; a wider span is cut at its start

    def series(
        self, site: str, node: str, device: str, point: str, start: datetime, end: datetime
    ) -> list[Point]:
        begin, stop = to_ms(start), to_ms(end)
        with self.sessions() as session:
            raw = session.execute(
                select(RawSample.ts, RawSample.value)
                .where(*_raw_point(site, node, device, point))
                .where(RawSample.ts >= begin, RawSample.ts < stop)
                .order_by(RawSample.ts.desc(), RawSample.id.desc())
                .limit(self.max_points)
            ).all()
            minutes = session.execute(
                select(MinuteSample.bucket, MinuteSample.min, MinuteSample.avg, MinuteSample.max)
                .where(*_minute_point(site, node, device, point))
                .where(MinuteSample.bucket >= begin, MinuteSample.bucket < stop)
                .order_by(MinuteSample.bucket.desc())
                .limit(self.max_points)
            ).all()
        points = _points(raw, minutes)
        points.sort(key=lambda p: p.ts)
        return points[-self.max_points :]

    def latest(self, site: str, node: str, device: str, point: str, limit: int) -> list[Point]:
        with self.sessions() as session:
            raw = session.execute(
                select(RawSample.ts, RawSample.value)
                .where(*_raw_point(site, node, device, point))
                .order_by(RawSample.ts.desc(), RawSample.id.desc())
                .limit(limit)
            ).all()
            minutes = session.execute(
                select(MinuteSample.bucket, MinuteSample.min, MinuteSample.avg, MinuteSample.max)
                .where(*_minute_point(site, node, device, point))
                .order_by(MinuteSample.bucket.desc())
                .limit(limit)
            ).all()
        points = _points(raw, minutes)
        points.sort(key=lambda p: p.ts, reverse=True)
        return points[:limit]


def _raw_point(site: str, node: str, device: str, point: str) -> list:
    return [
        RawSample.site == site,
        RawSample.node == node,
        RawSample.device == device,
        RawSample.point == point,
    ]


def _minute_point(site: str, node: str, device: str, point: str) -> list:
    return [
        MinuteSample.site == site,
        MinuteSample.node == node,
        MinuteSample.device == device,
        MinuteSample.point == point,
    ]


def _points(raw: Sequence, minutes: Sequence) -> list[Point]:
    return [Point(from_ms(ts), value, value, value) for ts, value in raw] + [
        Point(from_ms(bucket), low, avg, high) for bucket, low, avg, high in minutes
    ]
