"""Sustained ingest of event messages from many simulated nodes into real ingest workers.

A private Mosquitto (`tests.brokers.MosquittoBroker`, plus the flow-control lines of
config/mosquitto/mosquitto.conf) on a free port; a site file with --nodes copies of the example
pump room (closed Modbus ports, suppressions dropped); the cloud as real processes:

- 1 worker: one `sitewatch cloud ingest` (or, with --single run, `sitewatch cloud run --port 0`:
  MQTT 3.1.1 without a shared subscription, and the API and console beside it);
- 2 workers: two `sitewatch cloud ingest` processes with the same --group (MQTT 5 shared
  subscription).

SQLite is a temp file (`--db sqlite:///...`); PostgreSQL a fresh database from
`tests.db.postgres_database()` (SITEWATCH_TEST_POSTGRES_URL names another server). Ingest acks
after commit and deduplicates on (site, node, stream, seq); both are what it always does.

The load generator is this process. Before timing starts it encodes, for every node, its
messages as valid `wire.Event` payloads with one point value each (19 of 20 are
`supply-pressure.pressure`, one in 200 of them below the 0.35 MPa low limit; every 20th toggles
`pumproom-leak.zone1`, so alarms are raised and cleared throughout). It then offers them open-loop
at --rate msg/s for --seconds, QoS 1, over --connections MQTT connections (each owns a share of
the nodes, so a node's seqs go out in order), and subscribes to `sw/v1/+/+/ack`.

- **Throughput**: messages whose confirmation (the cloud's `ack`, sent only after the commit)
  arrived inside the steady window [--warmup, --seconds] of the offer, divided by its length;
  beside it, the `messages` rows whose `received_at` (set when the batch's transaction inserts
  its rows, before the rest of its work; the rows are visible only once it commits) falls in
  the same window.
- **Lag**, per message published in that window: ack received − published, both on this
  process's `time.perf_counter()` (one clock). A message never confirmed counts as infinite.
  Also published → `received_at` (same machine, system clock).
- **Judging the target**: offer above it. The confirmed rate is counted over a window whose
  edges cut through the lag, so a cloud that keeps up with an offer of exactly 8,000 msg/s
  confirms 8,000 ± about 1% in it, a coin flip against "≥ 8,000". bench/RESULTS.md judges runs
  that offer 8,400 (`--rate 8400`): confirmed ≥ 8,000 with p99 < 1 s at 5% more than the target.
- **Generator**: its achieved offer rate in the window and how far it fell behind its schedule;
  CPU of every process (/proc utime+stime over the window), to see who had the 2 cores.

`--client raw` (default) publishes pre-built MQTT 3.1.1 PUBLISH packets with one `sendall` per
tick and counts the broker's PUBACKs in a reader thread: about a quarter of a core at 10,000
msg/s, so the cores go to the broker and the cloud. `--client paho` uses paho-mqtt clients, as an edge would; it cost 35% of
a core at 2,000 msg/s here (0.17 ms a message), so at 10,000 msg/s it would take most of the CPU
the workers need.

    .venv/bin/python bench/ingest_throughput.py [--backend sqlite|postgresql|both]
        [--workers 1|2|both] [--rate 10000] [--seconds 30] [--nodes 40] [--client raw|paho]

Run from the repository root. A script, not a test: targets live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud.db import make_engine, migrate  # noqa: E402
from cloud.models import StoredMessage  # noqa: E402
from sitewatch import wire  # noqa: E402
from sitewatch.broker import free_port  # noqa: E402
from tests.brokers import MosquittoBroker, _wait_for_port  # noqa: E402

EXAMPLE_SITE = ROOT / "config" / "site.example.yaml"
SITE, TEMPLATE_NODE = "harbour-view", "pumproom"
GROUP = "sw-bench"
TARGET_RATE, TARGET_P99_MS = 8000.0, 1000.0
TICK_S = 0.002
PUBLISH_WINDOW = 2000  # raw client: packets sent and not yet PUBACKed, per connection
LEAK_EVERY, PRESSURE_DIP_EVERY = 20, 200
CLK = os.sysconf("SC_CLK_TCK")


class BenchBroker(MosquittoBroker):
    """The test broker with config/mosquitto/mosquitto.conf's flow-control lines: without
    `max_inflight_messages 1000` Mosquitto hands the cloud 20 messages per commit."""

    def start(self) -> None:
        config = self.dir / "mosquitto.conf"
        config.write_text(
            f"listener {self.address.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "persistence false\n"
            "max_inflight_messages 1000\n"
            "max_queued_messages 1000000\n"
            "max_queued_bytes 536870912\n"
            "message_size_limit 262144\n"
        )
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "mosquitto", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.address.host, self.address.port)


def node_names(n: int) -> list[str]:
    return [f"pumproom-{i:02d}" for i in range(1, n + 1)]


def site_file(tmp: Path, nodes: list[str]) -> Path:
    """The example pump room once per node, each bus on a closed local port, no suppressions."""
    doc = yaml.safe_load(EXAMPLE_SITE.read_text(encoding="utf-8"))
    doc["profiles_dir"] = str(EXAMPLE_SITE.parent / doc.get("profiles_dir", "devices"))
    for section in ("suppressions", "patrol", "parking", "inspection"):
        doc.pop(section, None)  # they name nodes this site does not have
    template = doc["nodes"][TEMPLATE_NODE]
    doc["nodes"] = {}
    for node in nodes:
        copy = yaml.safe_load(yaml.safe_dump(template))
        for bus in copy["buses"].values():
            bus["host"], bus["port"] = "127.0.0.1", free_port()  # bound a moment ago, now closed
        doc["nodes"][node] = copy
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def item(seq: int, ts: int) -> wire.PointValue:
    if seq % LEAK_EVERY == 0:
        on = (seq // LEAK_EVERY) % 2 == 1
        return wire.PointValue(device="pumproom-leak", point="zone1", value=on, ts=ts)
    # One in PRESSURE_DIP_EVERY below the site's 0.35 MPa low limit: raises; the next clears.
    dip = seq % PRESSURE_DIP_EVERY == 1
    value = 0.30 if dip else round(0.45 + (seq % 41) / 200, 3)
    return wire.PointValue(device="supply-pressure", point="pressure", value=value, ts=ts)


@dataclass
class Node:
    name: str
    stream: str
    payloads: list[bytes]  # index seq - 1
    published: list[float] = field(default_factory=list)  # perf_counter, index seq
    confirmed: list[float] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return str(wire.Topic(SITE, self.name, wire.Kind.EVENT))


def build_nodes(names: list[str], per_node: int) -> list[Node]:
    nodes = []
    for name in names:
        stream = uuid.uuid4().hex
        ts = wire.now_ms()
        payloads = [
            wire.encode(
                wire.Event(
                    site=SITE,
                    node=name,
                    stream=stream,
                    seq=seq,
                    boot=1,
                    ts=ts,
                    items=[item(seq, ts)],
                )
            )[1]
            for seq in range(1, per_node + 1)
        ]
        zeros = [0.0] * (per_node + 1)
        nodes.append(Node(name, stream, payloads, list(zeros), list(zeros)))
    return nodes


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_string(s: str) -> bytes:
    data = s.encode()
    return struct.pack("!H", len(data)) + data


class RawPublisher:
    """A minimal MQTT 3.1.1 client that only publishes at QoS 1: CONNECT (clean session, no
    keepalive), pre-built PUBLISH packets written in bursts, PUBACKs counted by a reader thread."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = _mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0)
        body += _mqtt_string(client_id)
        self.sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        connack = self.sock.recv(4)
        if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
            raise RuntimeError(f"broker refused the bench publisher: {connack!r}")
        self.sent = 0
        self._received = 0
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def acked(self) -> int:
        return self._received // 4  # only PUBACKs come back: 0x40 0x02 id id

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self._received += len(data)

    def packet(self, topic: str, payload: bytes) -> bytes:
        self._next_id = self._next_id % 65535 + 1
        body = _mqtt_string(topic) + struct.pack("!H", self._next_id) + payload
        return b"\x32" + _remaining_length(len(body)) + body

    def room(self) -> int:
        return PUBLISH_WINDOW - (self.sent - self.acked)

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))
        self.sent += len(packets)

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")
            self.sock.close()
        except OSError:
            pass


class PahoPublisher:
    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.max_inflight_messages_set(PUBLISH_WINDOW)
        self.client.max_queued_messages_set(0)
        self.connected = threading.Event()
        self.client.on_connect = lambda *_: self.connected.set()
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("paho publisher did not connect")
        self.sent = 0

    def room(self) -> int:
        return 1_000_000  # paho queues beyond its in-flight window itself

    def send(self, packets: list[tuple[str, bytes]]) -> None:
        for topic, payload in packets:
            self.client.publish(topic, payload, qos=1)
        self.sent += len(packets)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class AckWatcher:
    """Subscribes to every node's `ack` and stamps the first confirmation of each seq."""

    def __init__(self, host: str, port: int, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self.acks = 0
        self.foreign = 0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="sw-bench-acks", protocol=mqtt.MQTTv311
        )
        self.subscribed = threading.Event()
        self.client.on_connect = lambda client, *_: client.subscribe(
            wire.Topic.filter(kind=wire.Kind.ACK), qos=1
        )
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("ack watcher did not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        self.acks += 1
        ack = json.loads(message.payload)
        node = self.nodes.get(ack["node"])
        if node is None or ack["stream"] != node.stream:
            self.foreign += 1
            return
        confirmed, top = node.confirmed, len(node.confirmed) - 1
        for low, high in ack["ranges"]:
            for seq in range(max(low, 1), min(high, top) + 1):
                if not confirmed[seq]:
                    confirmed[seq] = now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def postgres_pids(url: str, database: str) -> list[int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
            )
            return [int(row[0]) for row in rows]
    finally:
        engine.dispose()


def sitewatch(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sitewatch.cli", *args],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_for_text(log: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} not in {log} after {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Result:
    backend: str
    workers: int
    single: str
    client: str
    rate: float
    seconds: float
    warmup: float
    connections: int
    nodes: int
    offered: int = 0
    offer_rate: float = 0.0  # achieved, in the window
    behind_ms: float = 0.0  # worst lateness of a burst against the schedule
    stored_rate: float = 0.0
    confirmed: int = 0
    drain_s: float = math.inf  # last publish → every message confirmed
    lags: list[float] = field(default_factory=list)  # ms, messages published in the window
    commit_rate: float = 0.0  # messages rows with received_at in the window, per s
    commit_lags: list[float] = field(default_factory=list)  # ms, published → received_at
    unconfirmed_window: int = 0
    rows: int = 0
    positions: int = 0
    dead: int = 0
    alarm_events: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core, over the window
    machine: float = 0.0  # % of all cores busy, over the window
    rss: dict[str, float] = field(default_factory=dict)  # MB, each worker's largest
    load: str = ""
    worker_errors: int = 0

    @property
    def title(self) -> str:
        if self.workers == 1:
            how = "sitewatch cloud run" if self.single == "run" else "sitewatch cloud ingest"
            return f"{self.backend}, 1 worker ({how})"
        return f"{self.backend}, {self.workers} workers (sitewatch cloud ingest --group {GROUP})"

    def percentile(self, p: float, lags: list[float] | None = None) -> float:
        ordered = sorted(self.lags if lags is None else lags)
        if not ordered:
            return math.inf
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def passed(self) -> bool:
        return self.stored_rate >= TARGET_RATE and self.percentile(99) < TARGET_P99_MS


def offer(
    publishers: list[RawPublisher | PahoPublisher],
    shares: list[list[Node]],
    per_node: int,
    rate: float,
    seconds: float,
    client: str,
    t0: float,
) -> float:
    """Publish every message on its schedule from `t0`, one thread per connection; returns
    how far (s) the oldest message of a burst was at worst behind its scheduled time."""
    behind = [0.0] * len(publishers)

    def run(index: int) -> None:
        publisher, nodes = publishers[index], shares[index]
        order = [(node, seq) for seq in range(1, per_node + 1) for node in nodes]
        each = rate * len(nodes) / sum(len(s) for s in shares)
        done = 0
        while done < len(order):
            now = time.perf_counter()
            due = min(len(order), int((now - t0) * each))
            if due <= done:
                time.sleep(TICK_S)
                continue
            due = min(due, done + max(0, publisher.room()))
            if due <= done:
                time.sleep(0.0005)  # the broker is behind with its PUBACKs
                continue
            behind[index] = max(behind[index], now - (t0 + done / each))
            chunk = order[done:due]
            if client == "raw":
                packets = [publisher.packet(n.topic, n.payloads[s - 1]) for n, s in chunk]
            else:
                packets = [(n.topic, n.payloads[s - 1]) for n, s in chunk]
            stamp = time.perf_counter()
            for node, seq in chunk:
                node.published[seq] = stamp
            publisher.send(packets)
            done = due

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(shares))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 600)
    return max(behind)


def run_one(args: argparse.Namespace, backend: str, workers: int, tmp: Path) -> Result:
    result = Result(
        backend,
        workers,
        args.single,
        args.client,
        args.rate,
        args.seconds,
        args.warmup,
        args.connections,
        args.nodes,
    )
    names = node_names(args.nodes)
    per_node = math.ceil(args.rate * args.seconds / args.nodes)
    site = site_file(tmp, names)
    built = time.perf_counter()
    nodes = build_nodes(names, per_node)
    result.offered = per_node * len(nodes)
    print(
        f"payloads  {result.offered:,} events for {len(nodes)} nodes encoded in "
        f"{time.perf_counter() - built:.1f} s",
        flush=True,
    )
    with ExitStack() as stack:
        if backend == "sqlite":
            db_url, database = f"sqlite:///{tmp / 'cloud.db'}", ""
        else:
            from tests.db import postgres_database

            db_url = stack.enter_context(postgres_database())
            database = db_url.rsplit("/", 1)[1]
        engine = make_engine(db_url)
        migrate(engine)  # before the workers, so that they only check it
        engine.dispose()
        broker = BenchBroker(persistence=False)
        broker.start()
        stack.callback(shutil.rmtree, broker.dir, True)
        stack.callback(broker.stop)
        mqtt_url = str(broker.address)
        processes: list[subprocess.Popen[bytes]] = []
        logs = []
        for index in range(workers):
            log = tmp / f"worker-{index + 1}.log"
            logs.append(log)
            common = ("--site", str(site), "--db", db_url, "--mqtt", mqtt_url)
            if workers == 1 and args.single == "run":
                process = sitewatch("cloud", "run", *common, "--port", "0", log=log)
            else:
                process = sitewatch("cloud", "ingest", *common, "--group", GROUP, log=log)
            processes.append(process)
            stack.callback(stop, process)
        for log in logs:
            wait_for_text(log, "cloud ingest connected", 120)
        host, port = broker.address.host, broker.address.port
        watcher = AckWatcher(host, port, {n.name: n for n in nodes})
        stack.callback(watcher.close)
        publishers: list[RawPublisher | PahoPublisher] = []
        for index in range(args.connections):
            kind = RawPublisher if args.client == "raw" else PahoPublisher
            publisher = kind(host, port, f"sw-bench-pub-{index}")
            publishers.append(publisher)
            stack.callback(publisher.close)
        shares = [nodes[i :: args.connections] for i in range(args.connections)]

        pids = {f"worker {i + 1}": p.pid for i, p in enumerate(processes)}
        assert broker.process is not None
        pids["broker"] = broker.process.pid
        pids["generator"] = os.getpid()
        if database:
            for pid in postgres_pids(db_url, database):
                pids[f"postgres {pid}"] = pid
        samples: dict[str, tuple[int, int]] = {}
        machine: list[tuple[int, int]] = []

        workers_rss: dict[str, float] = {}

        def sample(t0: float) -> None:
            """CPU of every process over the window; the workers' largest RSS over the offer."""
            begin: dict[str, int] = {}
            while True:
                now = time.perf_counter()
                for name, pid in pids.items():
                    if name.startswith("worker"):
                        workers_rss[name] = max(workers_rss.get(name, 0.0), rss_mb(pid))
                if not begin and now >= t0 + args.warmup:
                    if database:  # backends that came up with the load
                        for pid in postgres_pids(db_url, database):
                            pids.setdefault(f"postgres {pid}", pid)
                    begin = {name: cpu_ticks(pid) for name, pid in pids.items()}
                    machine.append(machine_ticks())
                if now >= t0 + args.seconds:
                    for name, pid in pids.items():
                        samples[name] = (begin.get(name, 0), cpu_ticks(pid))
                    machine.append(machine_ticks())
                    return
                time.sleep(0.25)

        print(f"offering  {args.rate:,.0f} msg/s for {args.seconds:.0f} s ...", flush=True)
        t0 = time.perf_counter() + 0.5
        wall_offset = time.time() - time.perf_counter()  # perf_counter → the system clock
        sampler = threading.Thread(target=sample, args=(t0,), daemon=True)
        sampler.start()
        behind = offer(publishers, shares, per_node, args.rate, args.seconds, args.client, t0)
        last_publish = time.perf_counter()
        deadline = last_publish + args.drain
        while time.perf_counter() < deadline:
            if all(all(n.confirmed[1:]) for n in nodes):
                break
            time.sleep(0.1)
        ends = [max(n.confirmed[1:]) for n in nodes if all(n.confirmed[1:])]
        if len(ends) == len(nodes):
            result.drain_s = max(0.0, max(ends) - last_publish)
        sampler.join(5)

        lo, hi = t0 + args.warmup, t0 + args.seconds
        in_window = stored = 0
        for node in nodes:
            for seq in range(1, per_node + 1):
                published, confirmed = node.published[seq], node.confirmed[seq]
                if confirmed:
                    result.confirmed += 1
                    if lo <= confirmed < hi:
                        stored += 1
                if lo <= published < hi:
                    in_window += 1
                    if confirmed:
                        result.lags.append((confirmed - published) * 1000)
                    else:
                        result.unconfirmed_window += 1
                        result.lags.append(math.inf)
        span = hi - lo
        result.offer_rate = in_window / span
        result.stored_rate = stored / span
        result.behind_ms = behind * 1000
        tick_span = machine[1][1] - machine[0][1] if len(machine) == 2 else 0
        wall = span * CLK
        for name, (begin, end) in samples.items():
            result.cpu[name] = 100 * (end - begin) / wall
        if tick_span:
            result.machine = 100 * (machine[1][0] - machine[0][0]) / tick_span
        result.rss = workers_rss
        result.load = " ".join(f"{v:.2f}" for v in os.getloadavg())

        checker = create_engine(db_url, poolclass=NullPool)
        try:
            with checker.connect() as connection:
                stored_rows = connection.execute(
                    select(StoredMessage.node, StoredMessage.seq, StoredMessage.received_at)
                ).all()
                result.dead = connection.execute(text("SELECT COUNT(*) FROM dead_letters")).scalar()
                result.alarm_events = connection.execute(
                    text("SELECT COUNT(*) FROM alarm_events")
                ).scalar()
        finally:
            checker.dispose()
        result.rows = len(stored_rows)
        result.positions = len({(node, seq) for node, seq, _ in stored_rows})
        by_name = {n.name: n for n in nodes}
        wall_lo, wall_hi = lo + wall_offset, hi + wall_offset
        committed = 0
        for name, seq, received_at in stored_rows:
            at = received_at.timestamp()
            if wall_lo <= at < wall_hi:
                committed += 1
            published = by_name[name].published[seq]
            if lo <= published < hi:
                result.commit_lags.append((at - wall_offset - published) * 1000)
        result.commit_rate = committed / span
        for process in processes:
            stop(process)
        for log in logs:
            content = log.read_text(errors="replace")
            result.worker_errors += content.count(" ERROR ") + content.count("Traceback")
    return result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ms(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:,.0f} ms"


def report(r: Result) -> None:
    print(f"\n== {r.title} ==")
    print(
        f"offered   {r.offered:,} events: {r.rate:,.0f} msg/s for {r.seconds:.0f} s, {r.nodes} "
        f"nodes, QoS 1, {r.connections} {r.client} connections"
    )
    print(
        f"generator achieved {r.offer_rate:,.0f} msg/s in the window "
        f"{r.warmup:.0f}–{r.seconds:.0f} s; at worst {r.behind_ms:,.0f} ms behind schedule"
    )
    drain = "never" if math.isinf(r.drain_s) else f"{r.drain_s:.1f} s after the last publish"
    print(
        f"confirmed {r.stored_rate:,.0f} msg/s in the window (acks after commit); "
        f"{r.confirmed:,} of {r.offered:,} confirmed in all, the last {drain}"
    )
    print(
        f"committed {r.commit_rate:,.0f} msg/s in the window by the rows' received_at (set in "
        "the batch's transaction when it inserts them, before the rest of its work)"
    )
    print(
        f"lag       to confirmation: p50 {ms(r.percentile(50))}  p95 {ms(r.percentile(95))}  "
        f"p99 {ms(r.percentile(99))}  max {ms(r.percentile(100))}  "
        f"({len(r.lags):,} messages published in the window, {r.unconfirmed_window} never "
        "confirmed; publish → ack received, both on this process's clock)"
    )
    c = r.commit_lags
    print(
        f"          to commit: p50 {ms(r.percentile(50, c))}  p95 {ms(r.percentile(95, c))}  "
        f"p99 {ms(r.percentile(99, c))}  max {ms(r.percentile(100, c))}  "
        "(publish → received_at; one machine, one system clock)"
    )
    print(
        f"target    ≥ {TARGET_RATE:,.0f} msg/s: {verdict(r.stored_rate >= TARGET_RATE)}; "
        f"p99 lag < {TARGET_P99_MS:,.0f} ms: {verdict(r.percentile(99) < TARGET_P99_MS)}"
    )
    print(
        f"database  {r.rows:,} message rows, {r.positions:,} distinct positions, "
        f"{r.dead} dead letters, {r.alarm_events:,} alarm events; "
        f"{r.worker_errors} errors in the worker logs"
    )
    postgres = sum(v for k, v in r.cpu.items() if k.startswith("postgres"))
    parts = [f"{k} {v:.0f}%" for k, v in r.cpu.items() if not k.startswith("postgres")]
    if any(k.startswith("postgres") for k in r.cpu):
        parts.append(f"postgres backends {postgres:.0f}%")
    print(f"cpu       {', '.join(parts)} (of one core); machine {r.machine:.0f}% busy")
    rss = ", ".join(f"{name} {mb:.0f} MB" for name, mb in r.rss.items())
    print(f"memory    largest RSS during the offer: {rss}")
    print(f"          load average after the run {r.load}")


def summary(results: list[Result]) -> None:
    print("\nsummary")
    print(
        f"{'combination':<68} {'offered':>8} {'confirmed':>9} {'committed':>9} "
        f"{'p50':>9} {'p99':>9} {'p99 commit':>10}  verdict"
    )
    for r in results:
        print(
            f"{r.title:<68} {r.offer_rate:>8,.0f} {r.stored_rate:>9,.0f} {r.commit_rate:>9,.0f} "
            f"{ms(r.percentile(50)):>9} {ms(r.percentile(99)):>9} "
            f"{ms(r.percentile(99, r.commit_lags)):>10}  {verdict(r.passed)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", choices=("1", "2", "both"), default="both")
    parser.add_argument("--rate", type=float, default=10_000.0, help="offered msg/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to offer")
    parser.add_argument("--warmup", type=float, default=5.0, help="left out of the window (s)")
    parser.add_argument("--nodes", type=int, default=40, help="simulated edge nodes")
    parser.add_argument("--connections", type=int, default=4, help="publishing connections")
    parser.add_argument("--client", choices=("raw", "paho"), default="raw")
    parser.add_argument(
        "--single",
        choices=("ingest", "run"),
        default="ingest",
        help="what runs as the single worker: `cloud ingest` or `cloud run --port 0`",
    )
    parser.add_argument("--drain", type=float, default=120.0, help="wait for the rest (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    args = parser.parse_args()
    if not 0 <= args.warmup < args.seconds:
        parser.error("--warmup must be shorter than --seconds")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    counts = (1, 2) if args.workers == "both" else (int(args.workers),)
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"machine   {machine}")
    results = []
    for backend in backends:
        for workers in counts:
            tmp = Path(tempfile.mkdtemp(prefix=f"sw-ingest-{backend}-{workers}-"))
            print(f"\n-- {backend}, {workers} worker(s); work dir {tmp}", flush=True)
            try:
                result = run_one(args, backend, workers, tmp)
            finally:
                if not args.keep:
                    shutil.rmtree(tmp, ignore_errors=True)
            report(result)
            results.append(result)
    summary(results)
    print(f"machine   {machine}")


if __name__ == "__main__":
    main()
