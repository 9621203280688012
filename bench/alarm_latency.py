"""Alarm latency through the real stack: simulated register change → alarm row committed in the cloud.

Modbus TCP simulator → edge agent (fast scan from the example site) → MQTT broker → cloud ingest
(SQLite). Leak zone 1 of `pumproom-leak` is raised and cleared alternately; for each change t0 is
taken just before `sim.set(...)` and t1 when the ingest batch holding the matching alarm event
(raised / returned / cleared) has committed, detected through the Ingest `on_stored` callback.

    .venv/bin/python bench/alarm_latency.py [--changes 200] [--broker auto|mosquitto|amqtt]

Run from the repository root. A script, not a test: targets live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from cloud.models import AlarmEventRecord, AlarmRecord, PointRecord  # noqa: E402
from cloud.service import CloudService  # noqa: E402
from cloud.settings import CloudSettings  # noqa: E402
from edge.agent import EdgeAgent  # noqa: E402
from simulators.modbus_server import ModbusSimulator  # noqa: E402
from simulators.pumproom import PumpRoom  # noqa: E402
from sitewatch.configload import load_site  # noqa: E402
from tests.brokers import test_broker  # noqa: E402

DEVICE, POINT = "pumproom-leak", "zone1"
TRANSITIONS = ("raised", "returned", "cleared")
TARGET_P99_MS = 1000.0
TIMEOUT_S = 5.0

Arrival = tuple[float, str]  # (commit time, perf_counter clock; event name)


class AlarmWatch:
    """Called by the ingest thread after each committed batch; forwards new alarm events."""

    def __init__(self, sessions: sessionmaker[Session], loop: asyncio.AbstractEventLoop) -> None:
        self.sessions = sessions
        self.loop = loop
        self.arrivals: asyncio.Queue[Arrival] = asyncio.Queue()
        self.last_id = 0

    def on_stored(self) -> None:
        committed = time.perf_counter()  # before our own query, which is not part of the path
        with self.sessions() as session:
            rows = session.execute(
                select(AlarmEventRecord.id, AlarmEventRecord.event)
                .join(AlarmRecord)
                .where(
                    AlarmRecord.device == DEVICE,
                    AlarmRecord.point == POINT,
                    AlarmEventRecord.id > self.last_id,
                    AlarmEventRecord.event.in_(TRANSITIONS),
                )
                .order_by(AlarmEventRecord.id)
            ).all()
        for event_id, event in rows:
            self.last_id = event_id
            self.loop.call_soon_threadsafe(self.arrivals.put_nowait, (committed, event))


async def wait_for_point(sessions: sessionmaker[Session], timeout: float = 30.0) -> None:
    """Startup only: the edge's birth has reached the database once the leak point is there."""
    deadline = time.monotonic() + timeout
    query = select(PointRecord.id).where(PointRecord.device == DEVICE, PointRecord.point == POINT)
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.scalar(query) is not None:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{DEVICE}.{POINT} never reached the cloud database")


async def measure(broker_url: str, changes: int, workdir: Path) -> tuple[list[float], int]:
    """Latencies in ms of each change that arrived, and how many timed out."""
    site = load_site(ROOT / "config" / "site.example.yaml")
    async with ModbusSimulator(site, "pumproom") as sim:
        room = PumpRoom(sim)
        await room.normal()
        settings = CloudSettings(
            db_url=f"sqlite:///{workdir / 'cloud.db'}",
            mqtt_url=broker_url,
            http_port=0,
            site_files=[],
            client_id=f"sw-cloud-bench-{uuid.uuid4().hex[:8]}",
        )
        cloud = CloudService(settings, {site.id: site})
        watch = AlarmWatch(cloud.sessions, asyncio.get_running_loop())
        cloud.ingest.on_stored = watch.on_stored  # public hook; set before ingest starts
        edge = EdgeAgent(sim.site_for_edge(), "pumproom", cloud.ingest.broker, workdir / "edge")
        latencies: list[float] = []
        timeouts = 0
        async with asyncio.TaskGroup() as group:
            cloud_task = group.create_task(cloud.run())
            await cloud.started()
            edge_task = group.create_task(edge.run())
            await wait_for_point(cloud.sessions)
            await asyncio.sleep(1.0)  # let the startup burst settle
            for i in range(changes):
                active = i % 2 == 0
                await asyncio.sleep(random.uniform(0.3, 0.6))  # don't phase-lock with the scan
                while not watch.arrivals.empty():  # stale arrivals after a timeout
                    watch.arrivals.get_nowait()
                t0 = time.perf_counter()
                await sim.set(DEVICE, POINT, active)
                try:
                    async with asyncio.timeout(TIMEOUT_S):
                        t1, event = await watch.arrivals.get()
                except TimeoutError:
                    timeouts += 1
                    continue
                if (event == "cleared") == active:
                    raise RuntimeError(f"change {i} set active={active} but got {event!r}")
                latencies.append((t1 - t0) * 1000)
            edge_task.cancel()
            cloud_task.cancel()
    return latencies, timeouts


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--broker", choices=("auto", "mosquitto", "amqtt"), default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ["SITEWATCH_TEST_BROKER"] = args.broker
    with test_broker() as broker, tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        scan_ms = load_site(ROOT / "config" / "site.example.yaml").nodes["pumproom"].scan.fast_ms
        print(
            f"broker {broker.kind} on {broker.address}; {args.changes} changes of {DEVICE}.{POINT}"
        )
        latencies, timeouts = asyncio.run(measure(str(broker.address), args.changes, Path(tmp)))
    ms = sorted(latencies)
    if not ms:
        raise SystemExit(f"no alarm transition arrived ({timeouts} timed out)")
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    verdict = "PASS" if p99 <= TARGET_P99_MS and timeouts == 0 else "MISS"
    print(
        f"machine   {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"broker    {broker.kind}")
    print(f"count     {len(ms)} (timed out after {TIMEOUT_S:.0f} s: {timeouts})")
    print(f"scan      fast {scan_ms} ms")
    print(f"latency   p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  max {ms[-1]:.0f} ms")
    print(f"          mean {statistics.fmean(ms):.0f} ms  min {ms[0]:.0f} ms")
    print(f"target    p99 ≤ {TARGET_P99_MS:.0f} ms at a 250 ms scan: {verdict}")


if __name__ == "__main__":
    main()
