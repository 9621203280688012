"""Telemetry to InfluxDB, against a fake /api/v2/write on a free port (tests/influx_fake.py).

Ingest writes a batch's samples inside its transaction; when InfluxDB fails or hangs, events and
alarms are still stored and confirmed, the samples are parked in the database, and the drainer
writes them later in order, once. The real store and Ingest.store_batch run on real wire messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.app import create_app
from cloud.ingest import Incoming, Ingest
from cloud.models import AlarmRecord, StoredMessage
from cloud.settings import CloudSettings
from cloud.telemetry import TelemetrySample, influx, setup
from cloud.telemetry.embedded import EmbeddedSink
from cloud.telemetry.influx import CircuitBreaker, Drainer, InfluxConfig, InfluxSink, InfluxWriter
from cloud.telemetry.influx_reader import InfluxTelemetryReader, flux_string, series_flux
from cloud.telemetry.tables import ParkedSample, RawSample
from sitewatch import wire
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Site
from tests.influx_fake import FakeInflux
from tests.users import OPERATOR

SITE, NODE = "harbour-view", "pumproom"
STREAM = "7e1e7e1e7e1e0001"
TIMEOUT_S = 0.5


class Clock:
    """The breaker's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeInflux]:
    with FakeInflux(token="s3cret", org="acme", bucket="sitewatch/autogen") as server:
        yield server


@pytest.fixture
def config(fake: FakeInflux) -> InfluxConfig:
    return InfluxConfig(fake.url, "s3cret", "acme", "sitewatch/autogen", timeout_s=TIMEOUT_S)


@pytest.fixture
def sites(example_site: Site) -> dict[str, Site]:
    return {example_site.id: example_site}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def writer(config: InfluxConfig, sites: dict[str, Site]) -> Iterator[InfluxWriter]:
    made = InfluxWriter(config, sites)
    yield made
    made.close()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(open_s=30.0, clock=clock)


@pytest.fixture
def ingest(
    sessions: sessionmaker[Session],
    sites: dict[str, Site],
    writer: InfluxWriter,
    breaker: CircuitBreaker,
) -> Ingest:
    # Never started: store_batch is driven directly, the broker is not needed.
    return Ingest(
        sites,
        sessions,
        BrokerAddress.parse("mqtt://127.0.0.1:1"),
        telemetry=InfluxSink(writer, breaker),
    )


def incoming(message: wire.Message) -> Incoming:
    topic, payload = wire.encode(message)
    return Incoming(topic, payload, mid=1, qos=0)


def telemetry(seq: int, *samples: tuple[str, str, wire.Value, int]) -> Incoming:
    values = [wire.PointValue(device=d, point=p, value=v, ts=ts) for d, p, v, ts in samples]
    return incoming(
        wire.Telemetry(site=SITE, node=NODE, stream=STREAM, seq=seq, boot=1, ts=seq, samples=values)
    )


def event(seq: int, *items: wire.PointValue) -> Incoming:
    return incoming(
        wire.Event(site=SITE, node=NODE, stream=STREAM, seq=seq, boot=1, ts=seq, items=list(items))
    )


def pending(ingest: Ingest) -> list[int]:
    """The positions ingest will confirm to the edge: only ever added after the commit."""
    return sorted(
        seq for lane in ingest.lanes for seqs in lane.pending_acks.values() for seq in seqs
    )


def parked(sessions: sessionmaker[Session]) -> list[tuple[str, int, float]]:
    with sessions() as session:
        rows = session.execute(
            select(ParkedSample.point, ParkedSample.ts, ParkedSample.value).order_by(
                ParkedSample.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def alarms(sessions: sessionmaker[Session]) -> set[tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(AlarmRecord.device, AlarmRecord.point).where(AlarmRecord.active.is_(True))
        )
        return {tuple(row) for row in rows}  # type: ignore[misc]


def arrived(fake: FakeInflux) -> list[tuple[str, float, int | None]]:
    return [(line.tags["point"], line.fields["value"], line.ts) for line in fake.lines]  # type: ignore[misc]


T0 = 1_780_000_000_000  # ms: a read time, as the edge stamped it


def test_samples_arrive_with_the_documented_measurement_tags_field_and_read_time(
    ingest: Ingest, fake: FakeInflux, sessions: sessionmaker[Session]
) -> None:
    ingest.store_batch(
        [
            telemetry(1, ("supply-pressure", "pressure", 0.61, T0), ("fire-tank", "level", 3, T0)),
            # Not trends: a flag, and a reading the edge marked bad.
            event(
                2,
                wire.PointValue(device="pumproom-leak", point="zone1", value=False, ts=T0 + 5),
                wire.PointValue(
                    device="supply-pressure",
                    point="pressure",
                    value=0.0,
                    quality=wire.Quality.BAD,
                    ts=T0 + 6,
                ),
            ),
        ]
    )
    pressure, level = sorted(fake.lines, key=lambda line: line.tags["point"], reverse=True)
    assert pressure.measurement == "sitewatch_point"
    assert pressure.tags == {
        "site": SITE,
        "node": NODE,
        "device": "supply-pressure",
        "point": "pressure",
        "unit": "MPa",
    }
    assert pressure.fields == {"value": 0.61}
    assert pressure.ts == T0, "milliseconds, the edge's read time"
    assert level.tags["unit"] == "m" and level.fields == {"value": 3.0}
    assert isinstance(level.fields["value"], float), "an integer reading is still a float field"
    assert len(fake.lines) == 2 and fake.writes == 1, "one request for the batch"
    assert parked(sessions) == []
    assert pending(ingest) == [1, 2]


@pytest.mark.parametrize("failure", [503, 500, "bad token"])
def test_influx_down_events_and_alarms_go_on_and_telemetry_is_parked(
    failure: int | str,
    ingest: Ingest,
    fake: FakeInflux,
    sessions: sessionmaker[Session],
    breaker: CircuitBreaker,
) -> None:
    if failure == "bad token":
        fake.token = "rotated"  # the server answers 401
    else:
        fake.set_mode(failure)  # type: ignore[arg-type]
    ingest.store_batch(
        [
            event(1, wire.PointValue(device="pumproom-leak", point="zone1", value=True, ts=T0)),
            telemetry(2, ("supply-pressure", "pressure", 0.2, T0 + 1000)),  # below 0.35: low
        ]
    )
    assert alarms(sessions) == {("pumproom-leak", "zone1"), ("supply-pressure", "pressure")}
    assert pending(ingest) == [1, 2], "stored, so confirmed to the edge"
    assert parked(sessions) == [("pressure", T0 + 1000, 0.2)]
    assert fake.lines == [] and fake.refused == 1
    assert not breaker.closed

    # While the breaker is open the next batch parks without asking InfluxDB.
    ingest.store_batch([telemetry(3, ("fire-tank", "level", 2.5, T0 + 2000))])
    assert fake.refused == 1
    assert [p for p, _, _ in parked(sessions)] == ["pressure", "level"]
    assert pending(ingest) == [1, 2, 3]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StoredMessage)) == 3


def test_influx_back_the_parked_samples_are_drained_in_order_exactly_once(
    ingest: Ingest,
    fake: FakeInflux,
    sessions: sessionmaker[Session],
    writer: InfluxWriter,
    breaker: CircuitBreaker,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(influx, "DRAIN_ROWS", 2)  # several chunks, so their order shows
    fake.set_mode(503)
    for seq in range(1, 6):
        # Parked in arrival order, which is not read-time order (a replayed backlog).
        ingest.store_batch([telemetry(seq, ("supply-pressure", "pressure", seq / 10, T0 - seq))])
    assert len(parked(sessions)) == 5
    drainer = Drainer(sessions, writer, breaker)

    fake.set_mode("ok")
    assert drainer.run() == 0, "not before the breaker's time is up"
    assert fake.lines == []
    clock.now += 31
    assert drainer.run() == 5
    assert arrived(fake) == [("pressure", seq / 10, T0 - seq) for seq in range(1, 6)]
    assert parked(sessions) == []
    assert breaker.closed
    assert drainer.run() == 0 and len(fake.lines) == 5, "nothing is written twice"

    # The breaker is closed again: ingest writes directly.
    ingest.store_batch([telemetry(6, ("fire-tank", "level", 2.0, T0 + 6))])
    assert arrived(fake)[-1] == ("level", 2.0, T0 + 6) and parked(sessions) == []


def test_a_drain_that_fails_halfway_keeps_what_influx_did_not_take(
    ingest: Ingest,
    fake: FakeInflux,
    sessions: sessionmaker[Session],
    writer: InfluxWriter,
    breaker: CircuitBreaker,
    clock: Clock,
) -> None:
    fake.set_mode(503)
    ingest.store_batch([telemetry(1, ("supply-pressure", "pressure", 0.5, T0))])
    clock.now += 31
    assert Drainer(sessions, writer, breaker).run() == 0, "still down"
    assert parked(sessions) == [("pressure", T0, 0.5)] and not breaker.closed
    assert fake.refused == 2


def test_a_hanging_influx_costs_one_timeout_then_batches_park_at_once(
    ingest: Ingest, fake: FakeInflux, sessions: sessionmaker[Session]
) -> None:
    fake.set_mode("hang")
    started = time.monotonic()
    ingest.store_batch(
        [
            event(1, wire.PointValue(device="pumproom-leak", point="zone2", value=True, ts=T0)),
            telemetry(2, ("supply-pressure", "pressure", 0.6, T0)),
        ]
    )
    first = time.monotonic() - started
    assert TIMEOUT_S * 0.8 <= first < TIMEOUT_S + 1.0, first
    assert fake.hung == 1
    ingest.store_batch([telemetry(3, ("supply-pressure", "pressure", 0.61, T0 + 1))])
    # The breaker is open: parked at once, without asking InfluxDB (and waiting) again. Counted,
    # not timed: a busy machine may take longer than a timeout to store a batch.
    assert fake.hung == 1, "the breaker is open: parked at once"
    assert alarms(sessions) == {("pumproom-leak", "zone2")}
    assert pending(ingest) == [1, 2, 3]
    assert [ts for _, ts, _ in parked(sessions)] == [T0, T0 + 1]


# -- reading back ---------------------------------------------------------------------------


def test_the_flux_query_selects_one_point_and_escapes_its_names() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    flux = series_flux("db/rp", "s", "n", "d", 'p"${x}\\', start, start + timedelta(hours=1))
    assert flux.splitlines() == [
        'from(bucket: "db/rp")',
        "  |> range(start: 2026-01-01T00:00:00.000000Z, stop: 2026-01-01T01:00:00.000000Z)",
        '  |> filter(fn: (r) => r._measurement == "sitewatch_point" and r._field == "value")',
        '  |> filter(fn: (r) => r.site == "s" and r.node == "n" and r.device == "d" and '
        'r.point == "p\\"\\${x}\\\\")',
        '  |> keep(columns: ["_time", "_value"])',
        "  |> group()",
        '  |> sort(columns: ["_time"])',
    ]
    assert flux_string('a"b') == '"a\\"b"'


def test_the_influx_reader_reads_back_what_was_written(
    ingest: Ingest, fake: FakeInflux, config: InfluxConfig
) -> None:
    now = wire.now_ms()
    ingest.store_batch(
        [
            telemetry(
                1,
                ("supply-pressure", "pressure", 0.61, now - 3000),
                ("supply-pressure", "pressure", 0.58, now - 2000),
                ("fire-tank", "level", 3.0, now - 2000),  # another point: not in the trend
            )
        ]
    )
    reader = InfluxTelemetryReader(config)
    try:
        end = datetime.now(UTC) + timedelta(seconds=1)
        series = reader.series(
            SITE, NODE, "supply-pressure", "pressure", end - timedelta(hours=1), end
        )
        assert [(p.min, p.avg, p.max) for p in series] == [(0.61, 0.61, 0.61), (0.58, 0.58, 0.58)]
        assert series[0].ts == datetime.fromtimestamp((now - 3000) / 1000, UTC)
        (newest,) = reader.latest(SITE, NODE, "supply-pressure", "pressure", 1)
        assert newest.avg == 0.58
    finally:
        reader.close()
    assert 'r.point == "pressure"' in fake.queries[0]


# -- wiring ---------------------------------------------------------------------------------


async def test_the_settings_choose_influx_and_the_api_reads_through_it(
    fake: FakeInflux, sessions: sessionmaker[Session], sites: dict[str, Site]
) -> None:
    settings = CloudSettings(
        site_files=[],
        influx_url=fake.url,
        influx_token="s3cret",
        influx_org="acme",
        influx_bucket="sitewatch/autogen",
    )
    chosen = setup.from_settings(settings, sessions, sites)
    try:
        assert isinstance(chosen.sink, InfluxSink)
        assert isinstance(chosen.reader, InfluxTelemetryReader)
        assert [job.name for job in chosen.jobs] == ["sitewatch-influx-drain"]
        now = wire.now_ms()
        with sessions.begin() as session:
            chosen.sink.store(
                session, [TelemetrySample(SITE, NODE, "fire-tank", "level", now, 2.5)]
            )
        app = create_app(sessions, sites)
        app.state.telemetry = chosen.reader
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sitewatch", headers=OPERATOR
        ) as api:
            got = (await api.get(f"/api/points/{SITE}/{NODE}/fire-tank/level/series")).json()
        assert [point["avg"] for point in got] == [2.5]
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(RawSample)) == 0
    finally:
        chosen.stop()
    embedded = setup.from_settings(CloudSettings(site_files=[]), sessions, sites)
    assert isinstance(embedded.sink, EmbeddedSink)
    with pytest.raises(ValueError, match="missing: influx_token, influx_org, influx_bucket"):
        CloudSettings(site_files=[], influx_url=fake.url)


def test_the_service_drain_job_empties_the_parked_table_once_influx_is_back(
    fake: FakeInflux, sessions: sessionmaker[Session], sites: dict[str, Site]
) -> None:
    settings = CloudSettings(
        site_files=[],
        influx_url=fake.url,
        influx_token="s3cret",
        influx_org="acme",
        influx_bucket="sitewatch/autogen",
        influx_timeout_s=TIMEOUT_S,
        influx_park_s=0.2,
    )
    chosen = setup.from_settings(settings, sessions, sites)
    fake.set_mode(503)
    samples = [
        TelemetrySample(SITE, NODE, "fire-tank", "level", T0 + i, float(i)) for i in range(3)
    ]
    with sessions.begin() as session:
        chosen.sink.store(session, samples)
    assert len(parked(sessions)) == 3
    chosen.start()
    try:
        time.sleep(0.5)
        assert len(parked(sessions)) == 3, "still down: nothing lost"
        fake.set_mode("ok")
        deadline = time.monotonic() + 10
        while parked(sessions) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        chosen.stop()
    assert parked(sessions) == []
    assert arrived(fake) == [("level", float(i), T0 + i) for i in range(3)]
