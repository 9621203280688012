"""Test brokers: a private Mosquitto on a free port when the binary exists, else embedded amqtt."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sitewatch.broker import BrokerAddress, EmbeddedBroker, free_port


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


class MosquittoBroker:
    """A private mosquitto process; `restart()` keeps the port, so clients can reconnect."""

    def __init__(self, persistence: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sw-mosquitto-"))
        self.address = BrokerAddress("127.0.0.1", free_port())
        self.persistence = persistence
        self.process: subprocess.Popen[bytes] | None = None
        self.kind = "mosquitto"

    def start(self) -> None:
        config = self.dir / "mosquitto.conf"
        config.write_text(
            f"listener {self.address.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            f"persistence {'true' if self.persistence else 'false'}\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
        )
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "mosquitto", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.address.host, self.address.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class AmqttThread:
    """The embedded amqtt broker in a thread of its own, so it outlives each test's event loop."""

    def __init__(self) -> None:
        self.kind = "amqtt"
        self._loop = asyncio.new_event_loop()
        self._broker = EmbeddedBroker()
        self.address = self._broker.address
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._broker.__aenter__(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(
            self._broker.__aexit__(None, None, None), self._loop
        ).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def chosen_broker() -> str:
    """Which broker the tests will use here: 'mosquitto' or 'amqtt'."""
    wanted = os.environ.get("SITEWATCH_TEST_BROKER", "auto")
    if wanted == "amqtt" or (wanted == "auto" and not shutil.which("mosquitto")):
        return "amqtt"
    return "mosquitto"


@contextmanager
def test_broker() -> Iterator[MosquittoBroker | AmqttThread]:
    """Mosquitto if installed (SITEWATCH_TEST_BROKER=amqtt forces the embedded one)."""
    wanted = os.environ.get("SITEWATCH_TEST_BROKER", "auto")
    broker: MosquittoBroker | AmqttThread
    if wanted != "amqtt" and shutil.which("mosquitto"):
        broker = MosquittoBroker()
    elif wanted == "mosquitto":
        raise RuntimeError("SITEWATCH_TEST_BROKER=mosquitto but no mosquitto binary on PATH")
    else:
        broker = AmqttThread()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
