"""Modbus TCP request throughput and the edge's polling CPU, through real sockets to the simulator.

1. Raw: back-to-back `ModbusBus.read` of a 10-register block from one device, on 1 and 4 connections.
2. Polling: 20 devices × 20 points (8 discrete inputs, 6 uint16 holding, 3 float32 input registers,
   3 register bits: 3 requests per poll) by DevicePoller at 1 Hz, on one TCP bus and on 20 buses.
   CPU is process_time (and getrusage) over wall time, leaving out the first 3 s.
The simulator runs in a spawned process, so edge CPU is this process alone; the simulator's own CPU
over the same window is shown beside it.

    .venv/bin/python bench/modbus_polling.py [--raw-seconds 10] [--poll-seconds 30]

Run from the repository root. A script, not a test: targets live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.modbus import BusSettings, DeviceError, ModbusBus, RegisterSpec, plan_reads  # noqa: E402
from edge.agent import bus_settings  # noqa: E402
from edge.poller import DevicePoller, register_spec  # noqa: E402
from simulators.modbus_server import ModbusSimulator  # noqa: E402
from sitewatch.configload import load_site  # noqa: E402
from sitewatch.siteconfig import Site  # noqa: E402

DEVICES, WARMUP_S = 20, 3.0
REQ_TARGET = "target: record only (issue 3)"
CPU_GUIDE = "guide: ≤ 10% of one core on a Pi-class node (informative, not pass/fail)"
(BLOCK10,) = plan_reads([RegisterSpec(f"r{i}", "holding_register", i) for i in range(10)])


def point(table: str, address: int, **extra: object) -> dict:
    return {"label": "bench point", "table": table, "address": address, "scan": "normal", **extra}


def write_site(tmp: Path) -> Path:
    """Profiles and a site with three nodes: `raw` (1 device), `shared` (20 units on one bus) and
    `separate` (20 buses, one device each). Ports are placeholders; the simulator binds its own."""
    bench20 = (
        {f"di{i}": point("discrete_input", i) for i in range(8)}
        | {f"hr{i}": point("holding_register", i) for i in range(6)}
        | {f"fl{i}": point("input_register", 2 * i, type="float32") for i in range(3)}
        | {f"bit{i}": point("input_register", 6, bit=i) for i in range(3)}
    )
    block10 = {f"r{i}": point("holding_register", i) for i in range(10)}
    (tmp / "devices").mkdir()
    for name, points in (("bench20", bench20), ("block10", block10)):
        profile = {"profile": name, "description": "bench profile", "points": points}
        (tmp / "devices" / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    tcp = {"transport": "tcp", "host": "127.0.0.1", "port": 502, "timeout_s": 1.0}
    ids = [f"dev{i:02d}" for i in range(1, DEVICES + 1)]

    def node(bus_ids: list[str], units: list[int], profile: str = "bench20") -> dict:
        devices = {
            d: {"name": d, "profile": profile, "bus": bus, "unit": unit}
            for d, bus, unit in zip(ids, bus_ids, units, strict=False)
        }
        buses = dict.fromkeys(bus_ids, tcp)
        return {"name": "bench", "scan": {"normal_ms": 1000}, "buses": buses, "devices": devices}

    nodes = {
        "raw": node(["gw"], [1], "block10"),
        "shared": node(["gw"] * DEVICES, list(range(1, DEVICES + 1))),
        "separate": node([f"gw-{d}" for d in ids], [1] * DEVICES),
    }
    site = {"site": {"id": "bench", "name": "Bench"}, "nodes": nodes}
    (tmp / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    return tmp / "site.yaml"


def serve(site_path: str, conn: Connection) -> None:
    """Child process: simulate every node, send the bound ports, then answer CPU queries."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    async def run() -> None:
        site = load_site(site_path)
        async with contextlib.AsyncExitStack() as stack:
            ports = {}
            for node in site.nodes:
                sim = await stack.enter_async_context(ModbusSimulator(site, node))
                ports[node] = sim.ports
            conn.send(ports)
            while await asyncio.to_thread(conn.recv) != "stop":
                conn.send(time.process_time())

    asyncio.run(run())


class Clock:
    """CPU of this process (process_time and getrusage) and of the simulator, over wall time."""

    def __init__(self, sim: Connection) -> None:
        self.sim = sim
        self.start = self.read()

    def read(self) -> tuple[float, float, float, float, float]:
        self.sim.send("cpu")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall, cpu = time.perf_counter(), time.process_time()
        return wall, cpu, usage.ru_utime, usage.ru_stime, self.sim.recv()

    def percents(self) -> tuple[float, str]:
        """Elapsed wall seconds, and a description of the CPU shares since the start."""
        end = self.read()
        wall, cpu, user, system, sim = (b - a for a, b in zip(self.start, end, strict=True))
        return wall, (
            f"edge CPU {100 * cpu / wall:.1f}% of one core (rusage user {100 * user / wall:.1f}% "
            f"+ sys {100 * system / wall:.1f}%); simulator process {100 * sim / wall:.1f}%"
        )


async def hammer(settings: BusSettings, seconds: float) -> tuple[int, int]:
    """Back-to-back reads of BLOCK10 on one connection; (requests answered, errors)."""
    count = errors = 0
    async with ModbusBus(settings) as bus:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                await bus.read(1, BLOCK10)
                count += 1
            except DeviceError:
                errors += 1
    return count, errors


async def throughput(site: Site, sim: Connection, connections: int, seconds: float) -> None:
    settings, clock = bus_settings(site.nodes["raw"].buses["gw"]), Clock(sim)
    results = await asyncio.gather(*(hammer(settings, seconds) for _ in range(connections)))
    wall, cpu = clock.percents()
    count, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    print(
        f"raw       {connections} connection(s): {count / wall:,.0f} req/s ({count} requests, "
        f"{errors} errors, {1000 * wall * connections / max(count, 1):.2f} ms/request each)"
        f"\n          {cpu}\n          {REQ_TARGET}"
    )


class CountingPoller(DevicePoller):
    """A DevicePoller that counts poll cycles, and cycles ending in a read error, of all devices."""

    polls = errors = 0

    async def poll_once(self, blocks: list) -> None:
        await super().poll_once(blocks)
        CountingPoller.polls += 1
        CountingPoller.errors += self.last_error is not None


async def polling(site: Site, node_id: str, sim: Connection, seconds: float) -> None:
    node = site.nodes[node_id]
    buses = {bus_id: ModbusBus(bus_settings(bus)) for bus_id, bus in node.buses.items()}
    pollers = [
        CountingPoller(device, buses[device.bus], node.scan, lambda _id, _items: None)
        for device in node.devices.values()
    ]
    first = next(iter(node.devices.values()))
    blocks = len(plan_reads([register_spec(n, p) for n, p in first.points.items()]))
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    await asyncio.sleep(WARMUP_S)
    polls0, errors0, clock = CountingPoller.polls, CountingPoller.errors, Clock(sim)
    await asyncio.sleep(seconds - WARMUP_S)
    wall, cpu = clock.percents()
    polls, errors = CountingPoller.polls - polls0, CountingPoller.errors - errors0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for bus in buses.values():
        bus.close()
    expected = len(pollers) * 1000 / node.scan.normal_ms
    print(
        f"poll      {len(pollers)} devices × {len(first.points)} points on {len(buses)} TCP "
        f"bus(es), {blocks} requests per poll, window {wall:.1f} s after {WARMUP_S:.0f} s warm-up"
        f"\n          {polls / wall:.2f} polls/s (scheduled {expected:.0f}), "
        f"{polls * blocks / wall:.0f} req/s, {errors} polls with a read error"
        f"\n          {cpu}\n          {CPU_GUIDE}"
    )


async def measure(site_path: Path, sim: Connection, raw_s: float, poll_s: float) -> None:
    site = load_site(site_path)
    for node_id, by_bus in sim.recv().items():  # the ports the simulator bound, per node and bus
        for bus_id, port in by_bus.items():
            site = site.with_bus(node_id, bus_id, port=port)
    for connections in (1, 4):
        await throughput(site, sim, connections, raw_s)
    for node_id in ("shared", "separate"):
        await polling(site, node_id, sim, poll_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-seconds", type=float, default=10.0)
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    print(
        f"machine   {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        site_path = write_site(Path(tmp))
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(target=serve, args=(str(site_path), theirs), daemon=True)
        child.start()
        theirs.close()  # so that a simulator which dies shows up here as EOFError, not a hang
        print(f"simulator separate process (pid {child.pid}); edge figures are this process only")
        try:
            asyncio.run(measure(site_path, ours, args.raw_seconds, args.poll_seconds))
        finally:
            ours.send("stop")
            child.join(timeout=10)


if __name__ == "__main__":
    main()
