"""Replay of an edge outbox backlog into the cloud store, with real processes and a real broker.

A backlog of N event messages is written straight into the edge's outbox (edge.outbox schema, one
point value each). A private Mosquitto and `sitewatch cloud run` (temp SQLite) are started first,
then `sitewatch edge run --node pumproom --max-rate 100000`, whose Modbus bus points at a closed
port (the devices are just offline). Measured:

1. replay rate: N / (edge started → the cloud's `messages` table holds all N backlog seqs);
2. fire-alarm latency during the replay: every ~2 s this process adds an `alarm` row
   (valve-station-1.waterflow) to the same outbox file, as a second writer through `Outbox.add`;
   latency is from just before that commit to the row being visible in the cloud's `messages`
   table (polled every 20 ms, read-only);
3. edge RSS: /proc/<edge pid>/status VmRSS every 0.5 s.

    .venv/bin/python bench/replay.py [--messages 100000] [--timeout 3600] [--keep]

Run from the repository root. A script, not a test: targets live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.outbox import UNSENT, Outbox  # noqa: E402
from sitewatch import wire  # noqa: E402
from sitewatch.broker import free_port  # noqa: E402
from tests.brokers import MosquittoBroker  # noqa: E402

EXAMPLE_SITE = ROOT / "config" / "site.example.yaml"
SITE, NODE = "harbour-view", "pumproom"
# (device, point, base, spread): analog values kept clear of their alarm limits.
POINTS = (("supply-pressure", "pressure", 0.45, 0.2), ("fire-tank", "level", 3.0, 1.0))
FIRE_DEVICE, FIRE_POINT = "valve-station-1", "waterflow"
TARGET_RATE, TARGET_ALARM_MS, TARGET_RSS_MB = 5000.0, 1000.0, 64.0
ALARM_EVERY_S, SAMPLE_S, TICK_S, ALARM_WAIT_S = 2.0, 0.5, 0.02, 30.0
CHUNK = 10_000
FLAT_MB = 5.0


def edge_site_file(tmp: Path) -> Path:
    """The example site with the pumproom bus on a closed local port and absolute profiles."""
    doc = yaml.safe_load(EXAMPLE_SITE.read_text())
    doc["profiles_dir"] = str(EXAMPLE_SITE.parent / doc.get("profiles_dir", "devices"))
    for bus in doc["nodes"][NODE]["buses"].values():
        bus["host"], bus["port"] = "127.0.0.1", free_port()  # bound a moment ago, now closed
    path = tmp / "edge-site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def build_backlog(path: Path, n: int) -> str:
    """N event rows, seq 1..N, as an earlier boot (1) of the edge left them; returns the stream."""
    with Outbox(path) as box:
        stream = box.stream
        box.next_boot()
    db = sqlite3.connect(path, isolation_level=None)
    for start in range(1, n + 1, CHUNK):
        rows = []
        for seq in range(start, min(start + CHUNK, n + 1)):
            device, point, base, spread = POINTS[seq % len(POINTS)]
            ts = wire.now_ms()
            value = wire.PointValue(
                device=device, point=point, value=round(base + spread * (seq % 97) / 97, 3), ts=ts
            )
            event = wire.Event(
                site=SITE, node=NODE, stream=stream, seq=seq, boot=1, ts=ts, items=[value]
            )
            rows.append((seq, wire.Kind.EVENT.value, wire.encode(event)[1], UNSENT, ts))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO outbox (seq, kind, payload, state, created_ms) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")
    db.close()
    return stream


def add_alarm(box: Outbox, meta: sqlite3.Connection, active: bool) -> int:
    """A fire-lane row, made as the edge agent makes one, under the edge's current boot."""
    boot = int(meta.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()[0])

    def build(seq: int) -> bytes:
        ts = wire.now_ms()
        item = wire.PointValue(device=FIRE_DEVICE, point=FIRE_POINT, value=active, ts=ts)
        alarm = wire.Alarm(
            site=SITE, node=NODE, stream=box.stream, seq=seq, boot=boot, ts=ts, items=[item]
        )
        return wire.encode(alarm)[1]

    return box.add(wire.Kind.ALARM.value, build)


def sitewatch(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sitewatch.cli", *args],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def scrape(port: int, name: str) -> float:
    """One sample of the edge's Prometheus /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
    raise RuntimeError(f"{name} not in the edge's /metrics")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_for_text(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in {log} after {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: a clean stop, as the CLI handles it
    process.wait(timeout=60)


@dataclass
class Run:
    n: int
    stored: int = 0
    t_first: float = 0.0  # from edge start, s
    t_done: float = 0.0
    elapsed: float = 0.0  # until all stored, or until the timeout
    alarms: int = 0
    latencies: list[float] = field(default_factory=list)  # ms
    waiting: list[float] = field(default_factory=list)  # s, alarms that never arrived
    rss: list[float] = field(default_factory=list)  # MB
    rss_start: float = 0.0
    produced: int = 0
    published: float = 0.0


def replay(tmp: Path, broker: MosquittoBroker, n: int, timeout: float) -> Run:
    run = Run(n)
    outbox_path, cloud_db = tmp / "edge" / f"{SITE}-{NODE}.outbox.db", tmp / "cloud.db"
    built = time.perf_counter()
    stream = build_backlog(outbox_path, n)
    print(f"backlog   {n:,} event rows written in {time.perf_counter() - built:.1f} s")
    cloud = sitewatch(
        *("cloud", "run", "--site", str(EXAMPLE_SITE), "--db", f"sqlite:///{cloud_db}"),
        *("--mqtt", str(broker.address), "--port", "0"),
        log=tmp / "cloud.log",
    )
    edge = None
    try:
        wait_for_text(tmp / "cloud.log", "cloud ingest connected", 60)
        reader = sqlite3.connect(f"file:{cloud_db}?mode=ro", uri=True, isolation_level=None)
        box = Outbox(outbox_path)  # the benchmark's own writer connection, for fire alarms
        meta = sqlite3.connect(outbox_path, isolation_level=None)
        metrics_port = free_port()
        start = time.perf_counter()
        edge = sitewatch(
            *("edge", "run", "--node", NODE, "--site", str(edge_site_file(tmp))),
            *("--mqtt", str(broker.address), "--state-dir", str(outbox_path.parent)),
            *("--max-rate", "100000", "--metrics-port", str(metrics_port)),
            log=tmp / "edge.log",
        )
        print(f"processes edge pid {edge.pid}, cloud pid {cloud.pid}, work dir {tmp}", flush=True)
        sent: dict[int, float] = {}  # alarm seq -> t0
        last_id, next_sample, next_alarm = 0, start, start + ALARM_EVERY_S
        while True:
            now = time.perf_counter()
            if edge.poll() is not None or cloud.poll() is not None:
                raise RuntimeError(f"edge or cloud exited; logs in {tmp}")
            if now >= next_sample:
                next_sample += SAMPLE_S
                run.rss.append(rss_mb(edge.pid))
                last_id, more = reader.execute(
                    "SELECT COALESCE(MAX(id), ?), COALESCE(SUM(stream = ? AND seq <= ?), 0) "
                    "FROM messages WHERE id > ?",
                    (last_id, stream, n, last_id),
                ).fetchone()
                run.stored += more
                if run.stored and not run.t_first:
                    run.t_first, run.rss_start = now - start, run.rss[-1]  # the agent is up
                if run.stored >= n and not run.t_done:
                    run.t_done = now - start
                if len(run.rss) % 60 == 0:
                    print(f"  {now - start:6.0f} s  stored {run.stored:,}", flush=True)
            if not run.t_done and now >= next_alarm:
                next_alarm += ALARM_EVERY_S
                run.alarms += 1
                t0 = time.perf_counter()
                sent[add_alarm(box, meta, run.alarms % 2 == 1)] = t0
            if sent:
                rows = reader.execute(
                    "SELECT seq FROM messages WHERE site = ? AND node = ? AND stream = ? "
                    f"AND kind = 'alarm' AND seq IN ({','.join('?' * len(sent))})",
                    (SITE, NODE, stream, *sent),
                ).fetchall()
                seen = time.perf_counter()
                run.latencies += [(seen - sent.pop(seq)) * 1000 for (seq,) in rows]
            if run.t_done and (not sent or now - start - run.t_done > ALARM_WAIT_S):
                break
            if now - start > timeout:
                print(f"timeout   after {timeout:.0f} s")
                break
            time.sleep(TICK_S)
        run.elapsed = run.t_done or time.perf_counter() - start
        run.rss.append(rss_mb(edge.pid))
        run.waiting = sorted(time.perf_counter() - t0 for t0 in sent.values())
        run.produced = int(meta.execute("SELECT seq FROM sqlite_sequence").fetchone()[0])
        run.published = scrape(metrics_port, "sitewatch_published_messages_total")
        for connection in (box, meta, reader):
            connection.close()
    finally:
        for process in (edge, cloud):
            if process is not None:
                stop(process)
    return run


def report(run: Run) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    rate, ms, top = run.stored / run.elapsed, sorted(run.latencies), max(run.rss)
    worst, wait = (ms[-1] if ms else float("inf")), run.waiting
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"machine   {machine}")
    print("setup     mosquitto (tests.brokers), cloud on SQLite, edge --max-rate 100000")
    print(f"replay    {run.stored:,} of {run.n:,} stored {run.elapsed:.1f} s after edge start")
    if run.t_done > run.t_first:
        steady = run.stored / (run.t_done - run.t_first)
        print(f"          first stored at {run.t_first:.1f} s; first→last {steady:,.0f} msg/s")
    print(f"          edge published {run.published:,.0f} times for {run.produced:,} outbox rows")
    print(f"rate      {rate:,.0f} msg/s")
    print(
        f"target    ≥ {TARGET_RATE:,.0f} msg/s: {verdict(bool(run.t_done) and rate >= TARGET_RATE)}"
    )
    if ms:
        p50 = statistics.median(ms)
        print(f"alarms    {len(ms)} of {run.alarms}: p50 {p50:.0f} ms  max {worst:.0f} ms")
    if wait:
        print(f"          {len(wait)} never arrived (waited {wait[0]:.0f}–{wait[-1]:.0f} s)")
    print(f"target    ≤ {TARGET_ALARM_MS:.0f} ms: {verdict(not wait and worst <= TARGET_ALARM_MS)}")
    print(f"edge RSS  start {run.rss_start:.1f} MB  max {top:.1f} MB  end {run.rss[-1]:.1f} MB")
    flat = top <= TARGET_RSS_MB and top - run.rss_start <= FLAT_MB
    print(
        f"target    ≤ {TARGET_RSS_MB:.0f} MB, flat (max − start ≤ {FLAT_MB:.0f} MB): {verdict(flat)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sw-replay-"))
    broker = MosquittoBroker()
    broker.start()
    try:
        run = replay(tmp, broker, args.messages, args.timeout)
    finally:
        broker.stop()
    report(run)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(broker.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
