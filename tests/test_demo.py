"""`sitewatch demo` as a user runs it: it says where things are, works, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.brokers import AmqttThread, MosquittoBroker
from tests.brokers import test_broker as private_broker  # not collected as a test
from tests.conftest import ROOT


def _read_until(process: subprocess.Popen[str], pattern: str, timeout: float = 30.0) -> str:
    """Read the demo's output line by line until `pattern` matches; returns everything read."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"demo never printed {pattern!r}; output so far:\n{seen}")


@pytest.fixture
def broker() -> Iterator[MosquittoBroker | AmqttThread]:
    """A broker of this test alone: the demo issues gate cards, and the card list its cloud
    leaves retained on the broker must not reach a later test's gate (which would let a card
    through that its own cloud never issued)."""
    with private_broker() as private:
        yield private


def test_demo_runs_the_whole_stack_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, broker: MosquittoBroker | AmqttThread
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sitewatch.cli",
            "demo",
            "--port",
            "0",
            "--mqtt",
            str(broker.address),
            "--site",
            str(ROOT / "config" / "site.example.yaml"),
            "--scenario",
            str(ROOT / "config" / "scenarios" / "pumproom-demo.yaml"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        output = _read_until(process, r"Press Ctrl-C to stop")
        url = re.search(r"console\s+│\s+(http://127\.0\.0\.1:\d+)/", output)
        assert url, output
        login = re.search(r"console login: demo / (\S+)\s+API token: (sw_\S+)", output)
        assert login, output
        auth = {"Authorization": f"Bearer {login.group(2)}"}
        assert f"{broker.address} (external)" in output
        assert "modbus+tcp://127.0.0.1:" in output

        deadline = time.monotonic() + 45
        nodes: dict[str, dict] = {}
        while time.monotonic() < deadline:
            nodes = {
                n["node"]: n
                for n in httpx.get(f"{url.group(1)}/api/nodes", timeout=5, headers=auth).json()
            }
            pumps = nodes["pumproom"]["devices"]
            if all(n["online"] for n in nodes.values()) and sum(d["online"] for d in pumps) == 7:
                break
            time.sleep(0.1)
        assert set(nodes) == {"pumproom", "patrol-north", "patrol-south", "gate"}
        assert all(n["online"] for n in nodes.values()), nodes
        assert all(d["online"] for d in nodes["pumproom"]["devices"]), nodes["pumproom"]
        # The scenario's gate cards are issued, so its car is let in, not turned away.
        cards = httpx.get(f"{url.group(1)}/api/cards", timeout=5, headers=auth).json()
        assert {c["card"] for c in cards} == {"0A00BC614E", "W26:12:34567"}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a demo running behind the test run
            rest, _ = process.communicate()
            rest += "\n(the demo did not stop within 30 s of Ctrl-C and was killed)"
    assert process.returncode == 0, rest
    assert "Traceback" not in output + rest
    assert "stopped." in rest
