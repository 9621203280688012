"""Telemetry without InfluxDB: raw rows, the downsampler on a clock we move, and one reader.

Readings go in through Ingest.store_batch on real wire messages; the downsampler rolls rows older
than 48 h into 1-minute min/avg/max/count rows, deletes them, merges late readings, and changes
nothing when run again. The reader and the API give raw and rolled points as one trend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.app import create_app
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import Incoming, Ingest
from cloud.settings import CloudSettings
from cloud.telemetry import Point, embedded, setup
from cloud.telemetry.embedded import (
    Downsampler,
    EmbeddedSink,
    Rolled,
    SqlTelemetryReader,
    to_ms,
)
from cloud.telemetry.tables import MinuteSample, RawSample
from sitewatch import wire
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Site
from tests.query_plans import plans_of
from tests.users import OPERATOR

SITE, NODE = "harbour-view", "pumproom"
STREAM = "e3bedde0e3bedde0"
NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)  # half a minute past: the cutoff rounds down
CUTOFF = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # NOW - 48 h, to the minute
MINUTE = datetime(2026, 3, 8, 11, 0, tzinfo=UTC)  # a minute well before the cutoff


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sites(example_site: Site) -> dict[str, Site]:
    return {example_site.id: example_site}


@pytest.fixture
def ingest(sessions: sessionmaker[Session], sites: dict[str, Site]) -> Ingest:
    # Never started: store_batch is driven directly, the broker is not needed.
    return Ingest(
        sites, sessions, BrokerAddress.parse("mqtt://127.0.0.1:1"), telemetry=EmbeddedSink()
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def downsampler(sessions: sessionmaker[Session], clock: Clock) -> Downsampler:
    return Downsampler(sessions, raw_hours=48, now=clock)


class Edge:
    """Sends pressure readings as telemetry messages, numbered like an outbox."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest
        self.seq = 0

    def send(self, *readings: tuple[datetime, float], point: str = "pressure") -> None:
        self.seq += 1
        device = "supply-pressure" if point == "pressure" else "fire-tank"
        samples = [
            wire.PointValue(device=device, point=point, value=value, ts=to_ms(at))
            for at, value in readings
        ]
        message = wire.Telemetry(
            site=SITE, node=NODE, stream=STREAM, seq=self.seq, boot=1, ts=1, samples=samples
        )
        topic, payload = wire.encode(message)
        self.ingest.store_batch([Incoming(topic, payload, mid=self.seq, qos=0)])


@pytest.fixture
def edge(ingest: Ingest) -> Edge:
    return Edge(ingest)


def raw(sessions: sessionmaker[Session]) -> list[tuple[int, float]]:
    with sessions() as session:
        rows = session.execute(select(RawSample.ts, RawSample.value).order_by(RawSample.ts))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def minutes(sessions: sessionmaker[Session]) -> list[tuple[datetime, float, float, float, int]]:
    with sessions() as session:
        rows = session.scalars(select(MinuteSample).order_by(MinuteSample.bucket))
        return [
            (
                datetime.fromtimestamp(r.bucket / 1000, UTC),
                r.min,
                round(r.avg, 9),
                r.max,
                r.count,
            )
            for r in rows
        ]


def at(base: datetime, **delta: float) -> datetime:
    return base + timedelta(**delta)


def test_good_numeric_readings_become_raw_rows(edge: Edge, sessions: sessionmaker[Session]) -> None:
    edge.send((MINUTE, 0.61), (at(MINUTE, seconds=1), 0.6))
    edge.ingest.store_batch(
        [
            Incoming(
                *wire.encode(
                    wire.Event(
                        site=SITE,
                        node=NODE,
                        stream=STREAM,
                        seq=9,
                        boot=1,
                        ts=1,
                        items=[
                            wire.PointValue(
                                device="pumproom-leak", point="zone1", value=True, ts=5
                            ),
                            wire.PointValue(
                                device="fire-tank",
                                point="level",
                                value=1.0,
                                quality=wire.Quality.BAD,
                                ts=6,
                            ),
                        ],
                    )
                ),
                mid=9,
                qos=0,
            )
        ]
    )
    assert raw(sessions) == [(to_ms(MINUTE), 0.61), (to_ms(MINUTE) + 1000, 0.6)]


def test_the_downsampler_rolls_what_is_older_than_48_hours_into_minutes(
    edge: Edge, sessions: sessionmaker[Session], downsampler: Downsampler
) -> None:
    edge.send(
        (MINUTE, 1.0),
        (at(MINUTE, seconds=20), 2.0),
        (at(MINUTE, seconds=59.999), 6.0),
        (at(MINUTE, minutes=1), 10.0),  # the next minute
        (at(CUTOFF, milliseconds=-1), 7.0),  # the last ms before the cutoff: rolled
        (CUTOFF, 8.0),  # from the cutoff on: raw
        (at(CUTOFF, seconds=20), 9.0),  # older than 48 h by 10 s, but its minute is not done
        (at(NOW, hours=-1), 0.5),
    )
    assert downsampler.run() == Rolled(raw_rows=5, minutes=3)
    assert minutes(sessions) == [
        (MINUTE, 1.0, 3.0, 6.0, 3),
        (at(MINUTE, minutes=1), 10.0, 10.0, 10.0, 1),
        (at(CUTOFF, minutes=-1), 7.0, 7.0, 7.0, 1),
    ]
    assert [v for _, v in raw(sessions)] == [8.0, 9.0, 0.5]

    before = (minutes(sessions), raw(sessions))
    assert downsampler.run() == Rolled(0, 0), "running again changes nothing"
    assert (minutes(sessions), raw(sessions)) == before


def test_a_late_reading_is_merged_into_its_rolled_minute(
    edge: Edge, sessions: sessionmaker[Session], downsampler: Downsampler, clock: Clock
) -> None:
    edge.send((MINUTE, 1.0), (at(MINUTE, seconds=30), 3.0))
    downsampler.run()
    edge.send((at(MINUTE, seconds=45), -4.0))  # a replayed backlog, days late
    clock.now = at(NOW, minutes=5)
    assert downsampler.run() == Rolled(1, 1)
    assert minutes(sessions) == [(MINUTE, -4.0, 0.0, 3.0, 3)]
    assert raw(sessions) == []


def test_a_minute_split_between_chunks_is_counted_once(
    edge: Edge,
    sessions: sessionmaker[Session],
    downsampler: Downsampler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedded, "ROLL_ROWS", 2)
    edge.send(*[(at(MINUTE, seconds=s), float(s)) for s in range(0, 50, 10)])  # 0..40
    edge.send((at(MINUTE, minutes=3), 100.0), point="level")
    assert downsampler.run() == Rolled(raw_rows=6, minutes=4)  # per chunk, so 3 + 1
    with sessions() as session:
        rows = {r.point: r for r in session.scalars(select(MinuteSample))}
    assert (rows["pressure"].min, rows["pressure"].avg, rows["pressure"].max) == (0.0, 20.0, 40.0)
    assert rows["pressure"].count == 5 and rows["level"].count == 1
    assert raw(sessions) == []


def test_the_reader_gives_rolled_minutes_and_raw_readings_as_one_trend(
    edge: Edge, sessions: sessionmaker[Session], downsampler: Downsampler
) -> None:
    edge.send((MINUTE, 1.0), (at(MINUTE, seconds=30), 2.0), (at(NOW, hours=-1), 0.5))
    edge.send((at(NOW, minutes=-30), 0.7), (at(NOW, minutes=-1), 0.55))
    edge.send((at(NOW, minutes=-2), 9.0), point="level")  # another point
    downsampler.run()
    reader = SqlTelemetryReader(sessions)
    series = reader.series(SITE, NODE, "supply-pressure", "pressure", at(NOW, days=-3), NOW)
    assert series == [
        Point(MINUTE, 1.0, 1.5, 2.0),
        Point(at(NOW, hours=-1), 0.5, 0.5, 0.5),
        Point(at(NOW, minutes=-30), 0.7, 0.7, 0.7),
        Point(at(NOW, minutes=-1), 0.55, 0.55, 0.55),
    ]
    narrow = reader.series(SITE, NODE, "supply-pressure", "pressure", at(NOW, hours=-1), NOW)
    assert [p.avg for p in narrow] == [0.5, 0.7, 0.55], "[start, end)"
    assert [p.avg for p in reader.latest(SITE, NODE, "supply-pressure", "pressure", 3)] == [
        0.55,
        0.7,
        0.5,
    ]
    assert [p.avg for p in reader.latest(SITE, NODE, "supply-pressure", "pressure", 10)][-1] == 1.5


@pytest.fixture
async def api(
    sessions: sessionmaker[Session], sites: dict[str, Site]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sessions, sites))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sitewatch", headers=OPERATOR
    ) as client:
        yield client


async def test_the_series_endpoint(edge: Edge, api: httpx.AsyncClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    edge.send((at(now, minutes=-10), 0.61), (at(now, minutes=-5), 0.58), (at(now, days=-3), 0.4))
    url = f"/api/points/{SITE}/{NODE}/supply-pressure/pressure/series"
    default = (await api.get(url)).json()  # the last 24 h
    assert [(p["min"], p["avg"], p["max"]) for p in default] == [(0.61,) * 3, (0.58,) * 3]
    assert datetime.fromisoformat(default[0]["ts"]) == at(now, minutes=-10)
    wide = await api.get(
        url, params={"start": at(now, days=-4).isoformat(), "end": now.isoformat()}
    )
    assert [p["avg"] for p in wide.json()] == [0.4, 0.61, 0.58]
    assert (
        await api.get(f"/api/points/{SITE}/{NODE}/supply-pressure/nope/series")
    ).status_code == 404
    backwards = {"start": now.isoformat(), "end": at(now, hours=-1).isoformat()}
    assert (await api.get(url, params=backwards)).status_code == 400
    naive = {"start": "2026-01-01T00:00:00"}
    assert (await api.get(url, params=naive)).status_code == 422


def test_the_service_runs_the_downsampler_on_its_schedule(
    edge: Edge,
    sessions: sessionmaker[Session],
    sites: dict[str, Site],
    caplog: pytest.LogCaptureFixture,
) -> None:
    edge.send((at(datetime.now(UTC), days=-3), 1.0))
    settings = CloudSettings(site_files=[], telemetry_downsample_every_s=0.05)
    chosen = setup.from_settings(settings, sessions, sites)
    assert isinstance(chosen.sink, EmbeddedSink)
    assert isinstance(chosen.reader, SqlTelemetryReader)
    caplog.set_level(logging.INFO, logger="cloud.telemetry")
    chosen.start()
    try:
        deadline = time.monotonic() + 10
        while raw(sessions) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        chosen.stop()
    assert raw(sessions) == [] and len(minutes(sessions)) == 1
    assert "telemetry downsampler: rolled 1 raw rows" in caplog.text


async def test_the_alarm_detail_shows_the_trend_and_a_flag_its_messages(
    edge: Edge, sessions: sessionmaker[Session], api: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = at(now, days=-3).replace(second=0)  # one minute, rolled up: avg 0.7
    edge.send((old, 0.8), (at(old, seconds=30), 0.6))
    edge.send((at(now, minutes=-2), 0.3), (at(now, minutes=-1), 0.2))  # low: the alarm
    Downsampler(sessions, raw_hours=48).run()
    leak = wire.PointValue(device="pumproom-leak", point="zone1", value=True, ts=to_ms(now))
    topic, payload = wire.encode(
        wire.Event(site=SITE, node=NODE, stream=STREAM, seq=99, boot=1, ts=1, items=[leak])
    )
    edge.ingest.store_batch([Incoming(topic, payload, mid=99, qos=0)])
    listed = (await api.get("/api/alarms")).json()
    ids = {(a["device"], a["point"]): a["id"] for a in listed}

    pressure = (await api.get(f"/api/alarms/{ids['supply-pressure', 'pressure']}")).json()
    values = [(v["value"], v["quality"]) for v in pressure["recent_values"]]
    assert values == [(0.2, "good"), (0.3, "good"), (pytest.approx(0.7), "good")]
    flag = (await api.get(f"/api/alarms/{ids['pumproom-leak', 'zone1']}")).json()
    assert [v["value"] for v in flag["recent_values"]] == [True], "not trended: from messages"


def test_the_downsampler_reads_the_minutes_it_merges_by_key_not_by_scanning(
    tmp_path: Path, sites: dict[str, Site], clock: Clock
) -> None:
    # SQLite: the minute table grows by a row a point a minute, and is read for every chunk.
    engine = make_engine(f"sqlite:///{tmp_path / 'sitewatch.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    ingest = Ingest(
        sites, sessions, BrokerAddress.parse("mqtt://127.0.0.1:1"), telemetry=EmbeddedSink()
    )
    edge, downsampler = Edge(ingest), Downsampler(sessions, raw_hours=48, now=clock)
    edge.send((MINUTE, 1.0), (at(MINUTE, minutes=2), 3.0))
    edge.send((MINUTE, 5.0), point="level")
    downsampler.run()
    edge.send((at(MINUTE, seconds=45), -4.0), (at(MINUTE, minutes=1), 2.0))  # late, days late
    clock.now = at(NOW, minutes=5)

    with plans_of(engine) as plans:
        assert downsampler.run() == Rolled(raw_rows=2, minutes=2)
    engine.dispose()

    assert [scan for scan in plans.scanned if scan.startswith("telemetry_1m")] == []
    assert "telemetry_1m" in plans.searched
    by_point = sorted((m[0], m[1:]) for m in minutes(sessions))
    assert by_point == [
        (MINUTE, (-4.0, -1.5, 1.0, 2)),  # merged into the stored minute
        (MINUTE, (5.0, 5.0, 5.0, 1)),
        (at(MINUTE, minutes=1), (2.0, 2.0, 2.0, 1)),  # new
        (at(MINUTE, minutes=2), (3.0, 3.0, 3.0, 1)),
    ]
