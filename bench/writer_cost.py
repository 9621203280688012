"""What storing one message costs the ingest writer, without a broker: CPU time, or instructions.

`ingest_throughput.py` measures the whole system, and its figures move with the machine's speed
(by a quarter within one evening here). This script isolates the writer: it builds the same
event messages (40 nodes, one point value each, alarms raised and cleared), stores them in
batches of --batch through `BatchWriter.write` (the code a writer lane runs) into a fresh
database, and reports the cost per message over the last --messages of them.

- Default: CPU time per message (`time.process_time`), and wall time (PostgreSQL: with the
  round trips). Both move with the machine.
- `--callgrind`: the same run under `valgrind --tool=callgrind`, counting only the measured
  batches. Instructions do not depend on the machine's speed or load, so two commits can be
  compared on any day: run it on both. Needs valgrind and gcc (a small helper is compiled to
  switch the counting on and off); a run takes about a minute.

    .venv/bin/python bench/writer_cost.py [--backend sqlite|postgresql|both] [--callgrind]

The instruction count is of this process only (the PostgreSQL server's share is not in it).
A script, not a test: nothing here has a target.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest_throughput as load  # noqa: E402

from cloud.batch_writer import BatchWriter, Incoming  # noqa: E402
from cloud.db import make_engine, migrate, session_factory, writer_turns  # noqa: E402
from cloud.service import load_sites  # noqa: E402
from cloud.telemetry.embedded import EmbeddedSink  # noqa: E402
from tests.db import postgres_database  # noqa: E402

HELPER_C = """#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


def messages(tmp: Path, nodes: int, per_node: int) -> tuple[dict, list[Incoming]]:
    """The throughput benchmark's site and messages, in the order its nodes send them."""
    names = load.node_names(nodes)
    sites = load_sites([load.site_file(tmp, names)])
    built = load.build_nodes(names, per_node)
    ordered = [
        Incoming(node.topic, node.payloads[seq], mid=1, qos=1)
        for seq in range(per_node)
        for node in built
    ]
    return sites, ordered


def measure(
    url: str, sites: dict, batches: list[list[Incoming]], warmup: int
) -> tuple[float, float]:
    """CPU and wall seconds spent on the batches after the first `warmup` ones."""
    engine = make_engine(url)
    migrate(engine)
    writer = BatchWriter(
        sites, session_factory(engine), telemetry=EmbeddedSink(), turns=writer_turns(engine)
    )
    counting = os.environ.get("SW_CALLGRIND_HELPER")
    helper = ctypes.CDLL(counting) if counting else None
    try:
        for batch in batches[:warmup]:
            writer.write(batch)
        if helper is not None:
            helper.start()
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in batches[warmup:]:
            writer.write(batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if helper is not None:
            helper.stop()
        return cpu, wall
    finally:
        engine.dispose()


def instructions(args: argparse.Namespace, backend: str, tmp: Path) -> int:
    """Run this script for one backend under callgrind; the measured batches' instructions."""
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            sys.exit(f"--callgrind needs {tool} (apt-get install {tool})")
    source, helper = tmp / "count.c", tmp / "count.so"
    source.write_text(HELPER_C)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", helper, source], check=True)
    out = tmp / f"callgrind.{backend}"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--backend", backend, "--nodes", str(args.nodes),
        "--messages", str(args.messages), "--warmup", str(args.warmup), "--batch", str(args.batch),
    ]  # fmt: skip
    env = {**os.environ, "SW_CALLGRIND_HELPER": str(helper), "PYTHONHASHSEED": "0"}
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for line in Path(f"{out}.1").read_text().splitlines():  # the dump taken at stop()
        if line.startswith("totals:"):
            return int(line.split()[1])
    sys.exit(f"no totals in {out}.1")


def run(args: argparse.Namespace, backend: str, tmp: Path) -> None:
    if args.callgrind:
        count = instructions(args, backend, tmp)
        print(f"{backend:<10} {count / args.messages / 1000:8.0f} k instructions a message")
        return
    per_node = -(-(args.warmup + args.messages) // args.nodes)
    sites, stream = messages(tmp, args.nodes, per_node)
    batches = [stream[i : i + args.batch] for i in range(0, len(stream), args.batch)]
    warmup = args.warmup // args.batch
    measured = sum(len(b) for b in batches[warmup:])
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'writer.db'}"
        else:
            url = stack.enter_context(postgres_database())
        cpu, wall = measure(url, sites, batches, warmup)
    print(
        f"{backend:<10} {cpu / measured * 1e6:8.1f} µs CPU a message, "
        f"{wall / measured * 1e6:8.1f} µs wall ({measured:,} messages, batches of {args.batch})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--messages", type=int, default=12_000, help="measured")
    parser.add_argument("--warmup", type=int, default=4_000, help="stored first, not measured")
    parser.add_argument("--batch", type=int, default=500, help="messages a transaction")
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead")
    args = parser.parse_args()
    if args.callgrind and "--messages" not in sys.argv:
        args.messages = 2_000  # about a minute under valgrind
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if not os.environ.get("SW_CALLGRIND_HELPER"):
        print(
            f"machine   {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="sw-writer-") as tmp:
            run(args, backend, Path(tmp))


if __name__ == "__main__":
    main()
