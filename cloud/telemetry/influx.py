"""Telemetry to InfluxDB: write with a short timeout, park in the database when it fails, drain later."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client import Point as LinePoint
from influxdb_client.client.write_api import SYNCHRONOUS
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.telemetry import TelemetrySample
from cloud.telemetry.embedded import sample_rows
from cloud.telemetry.tables import ParkedSample
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)

MEASUREMENT = "sitewatch_point"
FIELD = "value"
WRITE_CHUNK = 5_000  # points per HTTP request (InfluxDB suggests 5,000)
DRAIN_ROWS = 5_000  # parked rows written and deleted per transaction


@dataclass(frozen=True)
class InfluxConfig:
    url: str
    token: str
    org: str
    bucket: str
    timeout_s: float = 2.0


class InfluxWriter:
    """Writes samples as `sitewatch_point` points through /api/v2/write, synchronously: a
    write has either succeeded when `write` returns, or it raised."""

    def __init__(self, config: InfluxConfig, sites: dict[str, Site] | None = None) -> None:
        self.config = config
        self.sites = sites or {}
        # retries=False (the default): a failed write is parked, never retried in here, so a
        # dead server costs one timeout, not several.
        self.client = InfluxDBClient(
            url=config.url,
            token=config.token,
            org=config.org,
            timeout=int(config.timeout_s * 1000),
        )
        self._api = self.client.write_api(write_options=SYNCHRONOUS)

    def line(self, sample: TelemetrySample) -> LinePoint:
        point = (
            LinePoint(MEASUREMENT)
            .tag("site", sample.site)
            .tag("node", sample.node)
            .tag("device", sample.device)
            .tag("point", sample.point)
        )
        site = self.sites.get(sample.site)
        spec = site.point(sample.node, sample.device, sample.point) if site else None
        if spec is not None and spec.unit:
            point = point.tag("unit", spec.unit)
        return point.field(FIELD, float(sample.value)).time(sample.ts, WritePrecision.MS)

    def write(self, samples: Iterable[TelemetrySample]) -> None:
        lines = [self.line(s) for s in samples]
        for start in range(0, len(lines), WRITE_CHUNK):
            self._api.write(
                bucket=self.config.bucket,
                org=self.config.org,
                record=lines[start : start + WRITE_CHUNK],
                write_precision=WritePrecision.MS,
            )

    def close(self) -> None:
        self.client.close()


class CircuitBreaker:
    """After a failed write, InfluxDB is not tried by ingest until the drainer has written to
    it again, and the drainer tries at most every `open_s`: a hanging server costs ingest one
    timeout per outage, not one per batch."""

    def __init__(self, open_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_s = open_s
        self.clock = clock
        self._lock = threading.Lock()
        self._closed = True
        self._probe_at = 0.0

    @property
    def closed(self) -> bool:
        return self._closed

    def probe_due(self) -> bool:
        with self._lock:
            return self._closed or self.clock() >= self._probe_at

    def failed(self) -> None:
        with self._lock:
            self._closed = False
            self._probe_at = self.clock() + self.open_s

    def succeeded(self) -> None:
        with self._lock:
            self._closed = True


def park(session: Session, samples: Iterable[TelemetrySample]) -> None:
    rows = sample_rows(samples)
    if rows:
        session.execute(insert(ParkedSample), rows)


class InfluxSink:
    """Writes to InfluxDB in the ingest transaction; if that fails or the breaker is open, parks
    the samples in the same transaction instead. Either way they are kept before the batch
    commits and its messages are acked, and events and alarms go on being stored."""

    def __init__(self, writer: InfluxWriter, breaker: CircuitBreaker) -> None:
        self.writer = writer
        self.breaker = breaker
        self.written = 0
        self.parked = 0

    def store(self, session: Session, samples: list[TelemetrySample]) -> None:
        if self.breaker.closed:
            try:
                self.writer.write(samples)
                self.written += len(samples)
                return
            except Exception as exc:
                # Down, hanging (the timeout), refusing the token or the bucket: all the same to
                # ingest, which must not stop. The drainer retries the parked samples.
                self.breaker.failed()
                log.warning(
                    "InfluxDB write failed, parking telemetry for %.0f s: %s",
                    self.breaker.open_s,
                    _reason(exc),
                )
        park(session, samples)
        self.parked += len(samples)


class Drainer:
    """Writes parked samples to InfluxDB in the order they were parked, deleting each chunk in
    the transaction that read it, only after InfluxDB took it. If that commit fails, the chunk
    is written again later: InfluxDB keeps one point per series and time, so it is stored once."""

    def __init__(
        self, sessions: sessionmaker[Session], writer: InfluxWriter, breaker: CircuitBreaker
    ) -> None:
        self.sessions = sessions
        self.writer = writer
        self.breaker = breaker
        self.drained = 0

    def run(self) -> int:
        """Drain until the table is empty or InfluxDB fails; how many samples were written."""
        if not self.breaker.probe_due():
            return 0
        total = 0
        while True:
            with self.sessions.begin() as session:
                rows = self._chunk(session)
                if not rows:
                    # Nothing parked: a probe still tells whether InfluxDB is back.
                    if not self.breaker.closed:
                        self._probe()
                    break
                try:
                    self.writer.write(TelemetrySample(*row[1:]) for row in rows)
                except Exception as exc:
                    self.breaker.failed()
                    log.warning(
                        "InfluxDB still failing, %d+ samples parked: %s", len(rows), _reason(exc)
                    )
                    break
                ids = [row[0] for row in rows]
                for start in range(0, len(ids), 500):
                    session.execute(
                        delete(ParkedSample).where(ParkedSample.id.in_(ids[start : start + 500]))
                    )
            total += len(rows)
            if not self.breaker.closed:
                log.info("InfluxDB is back: writing parked telemetry")
            self.breaker.succeeded()
        if total:
            self.drained += total
            log.info("drained %d parked samples to InfluxDB", total)
        return total

    def _chunk(self, session: Session) -> list:
        query = (
            select(
                ParkedSample.id,
                ParkedSample.site,
                ParkedSample.node,
                ParkedSample.device,
                ParkedSample.point,
                ParkedSample.ts,
                ParkedSample.value,
            )
            .order_by(ParkedSample.id)
            .limit(DRAIN_ROWS)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Several processes may drain: each row is written by the one that locked it.
            query = query.with_for_update(skip_locked=True)
        return list(session.execute(query).all())

    def _probe(self) -> None:
        if self.writer.client.ping():  # False, not an exception, when unreachable
            log.info("InfluxDB is back")
            self.breaker.succeeded()
        else:
            self.breaker.failed()


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else f"{type(exc).__name__}: {exc}"
