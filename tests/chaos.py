"""Real processes for fault tests: simulator, edge and cloud each in its own `sitewatch` process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.brokers import MosquittoBroker
from tests.conftest import EXAMPLE_SITE

SITE_ID = "harbour-view"
NODE = "pumproom"


def chaos_scenario(path: Path) -> Path:
    """A pump room that never stops changing: pressure every 0.1 s, a leak and a sprinkler
    (fire category) toggling, looping forever."""
    steps = []
    for i in range(20):
        steps.append(
            {
                "at": i * 0.1,
                "action": "pressure",
                "device": "supply-pressure",
                "value": 0.5 + (i % 2) * 0.1,
            }
        )
    steps += [
        {"at": 0.5, "action": "leak", "device": "pumproom-leak", "zone": 1},
        {"at": 1.5, "action": "leak_clear", "device": "pumproom-leak", "zone": 1},
        {"at": 0.7, "action": "waterflow", "device": "valve-station-1"},
        {"at": 1.7, "action": "waterflow_clear", "device": "valve-station-1"},
        {"at": 2.0, "action": "pressure", "device": "supply-pressure", "value": 0.55},
    ]
    path.write_text(yaml.safe_dump({"name": "chaos", "node": NODE, "loop": True, "steps": steps}))
    return path


def _sitewatch(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sitewatch.cli", *args], stdout=out, stderr=out, env=env
        )


def wait_for(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.1
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s")


class ChaosRig:
    """Broker, simulator, edge and cloud as separate processes that a test can kill and restart."""

    def __init__(self, tmp: Path, broker: MosquittoBroker) -> None:
        self.tmp = tmp
        self.broker = broker
        self.edge_site = tmp / "edge-site.yaml"
        self.cloud_db = tmp / "cloud.db"
        self.edge_dir = tmp / "edge"
        self.outbox = self.edge_dir / f"{SITE_ID}-{NODE}.outbox.db"
        self.sim: subprocess.Popen[bytes] | None = None
        self.edge: subprocess.Popen[bytes] | None = None
        self.cloud: subprocess.Popen[bytes] | None = None

    def start_sim(self) -> None:
        scenario = chaos_scenario(self.tmp / "chaos.yaml")
        self.sim = _sitewatch(
            "sim",
            "run",
            str(scenario),
            "--site",
            str(EXAMPLE_SITE),
            "--edge-site",
            str(self.edge_site),
            log=self.tmp / "sim.log",
        )
        wait_for(self.edge_site.exists, 20, "simulator wrote the edge site file")

    def start_edge(self) -> None:
        self.edge = _sitewatch(
            "edge",
            "run",
            "--node",
            NODE,
            "--site",
            str(self.edge_site),
            "--mqtt",
            str(self.broker.address),
            "--state-dir",
            str(self.edge_dir),
            "--confirm-timeout",
            "3",
            log=self.tmp / "edge.log",
        )

    def start_cloud(self) -> None:
        self.cloud = _sitewatch(
            "cloud",
            "run",
            "--site",
            str(EXAMPLE_SITE),
            "--db",
            f"sqlite:///{self.cloud_db}",
            "--mqtt",
            str(self.broker.address),
            "--port",
            "0",
            log=self.tmp / "cloud.log",
        )

    @staticmethod
    def kill(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in (self.sim, self.edge, self.cloud):
            self.kill(process, signal.SIGTERM)

    # -- what the edge and the cloud hold, read from their databases ---------------------------

    def produced(self) -> tuple[str, int]:
        """The edge's stream id and the highest seq it ever wrote."""
        with sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True) as db:
            stream = db.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()[0]
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return stream, int(row[0]) if row else 0

    def outbox_depth(self) -> int:
        with sqlite3.connect(f"file:{self.outbox}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def stored_seqs(self, stream: str) -> list[int]:
        with sqlite3.connect(f"file:{self.cloud_db}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT seq FROM messages WHERE node = ? AND stream = ? ORDER BY seq",
                (NODE, stream),
            ).fetchall()
        return [r[0] for r in rows]

    def stored_count(self) -> int:
        if not self.cloud_db.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.cloud_db}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the cloud has not made its tables yet

    def fire_messages_stored_after(self, source_ms: int) -> list[tuple[int, str]]:
        """(source ts, received_at) of fire-lane messages produced after `source_ms`."""
        with sqlite3.connect(f"file:{self.cloud_db}?mode=ro", uri=True) as db:
            return db.execute(
                "SELECT source_ts, received_at FROM messages WHERE kind = 'alarm' AND source_ts > ?"
                " ORDER BY source_ts",
                (source_ms,),
            ).fetchall()
