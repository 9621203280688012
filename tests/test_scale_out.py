"""Two ingest workers on one PostgreSQL, sharing Mosquitto's messages; one is killed mid-stream.

Real processes: three edge nodes replay backlogs of changes (a leak zone toggling, pressure
values), two `sitewatch cloud ingest` workers split them through a shared subscription, and one
worker is killed with SIGKILL while the stream runs. Every seq must be stored exactly once, every
outbox must end empty, and every alarm's history must be one consistent life, ending in the
state of the point's last value.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cloud.db import make_engine, migrate
from edge.outbox import UNSENT, Outbox
from sitewatch import wire
from sitewatch.broker import free_port
from tests.brokers import MosquittoBroker
from tests.chaos import wait_for
from tests.conftest import EXAMPLE_SITE
from tests.db import postgres_database

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None,
    reason="shared subscriptions are tested on Mosquitto (installed by .ci/run)",
)

SITE = "harbour-view"
NODES = ("pumproom", "pumproom-b", "pumproom-c")
BACKLOG = 900  # rows per node


@dataclass
class Processes:
    workers: list[subprocess.Popen[bytes]]
    edges: list[subprocess.Popen[bytes]]

    def all(self) -> list[subprocess.Popen[bytes]]:
        return [*self.workers, *self.edges]


def _site_file(tmp: Path) -> Path:
    """The example site's pump room three times over, each on a closed Modbus port (its devices
    are offline; the stream is the backlog)."""
    doc = yaml.safe_load(EXAMPLE_SITE.read_text(encoding="utf-8"))
    doc["profiles_dir"] = str(EXAMPLE_SITE.parent / doc.get("profiles_dir", "devices"))
    for section in ("suppressions", "patrol", "parking", "inspection"):
        doc.pop(section, None)  # they name nodes this site does not have
    pumproom = doc["nodes"]["pumproom"]
    doc["nodes"] = {}
    for node in NODES:
        copy = yaml.safe_load(yaml.safe_dump(pumproom))
        for bus in copy["buses"].values():
            bus["host"], bus["port"] = "127.0.0.1", free_port()
        doc["nodes"][node] = copy
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _leak(seq: int) -> bool:
    return (seq // 3) % 2 == 0


def _backlog(state_dir: Path, node: str) -> Path:
    """BACKLOG events of an earlier boot: every third one toggles leak zone 1."""
    path = state_dir / f"{SITE}-{node}.outbox.db"
    with Outbox(path) as box:
        stream = box.stream
        box.next_boot()
    rows = []
    for seq in range(1, BACKLOG + 1):
        ts = wire.now_ms() - (BACKLOG - seq) * 10
        if seq % 3 == 0:
            item = wire.PointValue(device="pumproom-leak", point="zone1", value=_leak(seq), ts=ts)
        else:
            value = round(0.5 + (seq % 7) / 100, 3)
            item = wire.PointValue(device="supply-pressure", point="pressure", value=value, ts=ts)
        event = wire.Event(
            site=SITE, node=node, stream=stream, seq=seq, boot=1, ts=ts, items=[item]
        )
        rows.append((seq, "event", wire.encode(event)[1], UNSENT, ts))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO outbox (seq, kind, payload, state, created_ms) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return path


def _sitewatch(tmp: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SITEWATCH_ACK_INTERVAL_S": "0.2"}
    with (tmp / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sitewatch.cli", *args], stdout=out, stderr=out, env=env
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_two_workers_one_killed_mid_stream_lose_nothing_and_double_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    site = _site_file(tmp_path)
    state = tmp_path / "edge"
    outboxes = {node: _backlog(state, node) for node in NODES}
    engine = make_engine(pg_url)
    migrate(engine)  # before the workers, so that they only check it
    engine.dispose()
    broker = MosquittoBroker()
    broker.start()
    mqtt = str(broker.address)
    running = Processes([], [])
    try:
        for name in ("worker-a", "worker-b"):
            running.workers.append(
                _sitewatch(tmp_path, name, "cloud", "ingest", "--site", str(site),
                           "--db", pg_url, "--mqtt", mqtt, "--group", "sitewatch-test")
            )  # fmt: skip
        for name in ("worker-a", "worker-b"):
            log = tmp_path / f"{name}.log"
            wait_for(lambda log=log: "cloud ingest connected" in log.read_text(), 30, name)
        for node in NODES:
            running.edges.append(
                _sitewatch(tmp_path, f"edge-{node}", "edge", "run", "--node", node,
                           "--site", str(site), "--mqtt", mqtt, "--state-dir", str(state),
                           "--confirm-timeout", "4", "--max-rate", "150")
            )  # fmt: skip
        wait_for(lambda: _stored(pg_url) >= len(NODES) * BACKLOG // 3, 60, "a third stored")
        running.workers[0].send_signal(signal.SIGKILL)
        running.workers[0].wait(10)
        assert _stored(pg_url) < len(NODES) * BACKLOG, "the kill must land mid-stream"

        def drained() -> bool:
            return all(_depth(box) == 0 for box in outboxes.values()) and all(
                _seqs(pg_url, node) == list(range(1, _produced(box) + 1))
                for node, box in outboxes.items()
            )

        wait_for(drained, 120, "every outbox confirmed empty and every seq stored", 0.5)
        for node, box in outboxes.items():
            # Exactly once: as many rows as seqs, with no gap (also what the unique key says).
            assert _seqs(pg_url, node) == list(range(1, _produced(box) + 1))
        last_pressure = max(seq for seq in range(1, BACKLOG + 1) if seq % 3)
        for node in NODES:
            # A point's state only moves forward: no worker wrote an older value over a newer.
            (seq,) = _query(
                pg_url,
                "SELECT seq FROM points WHERE node = :node AND point = 'pressure'",
                node=node,
            )[0]
            assert seq >= last_pressure, f"{node}: pressure went back to seq {seq}"
            events, active = _history(pg_url, node)
            _assert_one_consistent_life(node, events)
            assert active is _leak(BACKLOG - BACKLOG % 3), f"{node}: ends as the last value"
    finally:
        for process in running.all():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running.all():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        broker.stop()


def _query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def _stored(url: str) -> int:
    return int(_query(url, "SELECT COUNT(*) FROM messages")[0][0])


def _seqs(url: str, node: str) -> list[int]:
    rows = _query(url, "SELECT seq FROM messages WHERE node = :node ORDER BY seq", node=node)
    return [row[0] for row in rows]


def _depth(outbox: Path) -> int:
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def _produced(outbox: Path) -> int:
    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as db:
        return int(
            db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()[0]
        )


def _history(url: str, node: str) -> tuple[list[str], bool]:
    (alarm_id, active), *more = _query(
        url,
        "SELECT id, active FROM alarms WHERE node = :node AND point = 'zone1'",
        node=node,
    )
    assert not more, f"{node}: one alarm per source and condition, not several"
    rows = _query(
        url, "SELECT event FROM alarm_events WHERE alarm_id = :id ORDER BY id", id=alarm_id
    )
    return [row[0] for row in rows], bool(active)


def _assert_one_consistent_life(node: str, events: list[str]) -> None:
    """Raised or returned only when not active, cleared only when active: no transition lost
    or doubled, whichever worker made it."""
    active = False
    for index, event in enumerate(events):
        if event in ("raised", "returned"):
            assert not active, f"{node}: {event} while already active at {index}: {events}"
            active = True
        elif event == "cleared":
            assert active, f"{node}: cleared while not active at {index}: {events}"
            active = False
    assert events and events[0] == "raised", f"{node}: {events}"
