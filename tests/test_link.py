"""The edge's MQTT link against a real broker: bounded replay, and fire alarms ahead of it."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.link import EdgeLink
from edge.outbox import Outbox
from sitewatch import wire
from tests.brokers import AmqttThread, MosquittoBroker

SITE, NODE = "link-test", "n1"


class Collector:
    """Subscribes to the node's topics and notes when each message arrived."""

    def __init__(self, broker: MosquittoBroker | AmqttThread) -> None:
        self.arrivals: list[tuple[float, str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"c-{uuid.uuid4().hex[:6]}"
        )
        self.client.on_message = lambda _c, _u, m: self.arrivals.append(
            (time.monotonic(), m.topic.rsplit("/", 1)[-1], bytes(m.payload))
        )
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.connect(broker.address.host, broker.address.port)
        self.client.loop_start()
        self.client.subscribe(f"sw/v1/{SITE}/{NODE}/+", qos=1)
        assert self.ready.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@asynccontextmanager
async def running_link(
    broker: MosquittoBroker | AmqttThread, path: Path, backlog: int, **limits: float
) -> AsyncIterator[tuple[Collector, Outbox, EdgeLink]]:
    """A link publishing a backlog of `backlog` events from a fresh outbox, with no cloud: the
    broker acknowledges, nobody confirms."""
    collector = Collector(broker)
    outbox = Outbox(path)
    for i in range(backlog):
        outbox.add("event", lambda seq, i=i: f"event {i}".encode())
    link = EdgeLink(
        SITE,
        NODE,
        broker.address,
        outbox,
        on_connected=lambda boot: None,
        on_command=lambda command: None,
        **limits,  # type: ignore[arg-type]
    )
    task = asyncio.create_task(link.run())
    try:
        yield collector, outbox, link
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        collector.close()
        outbox.close()


def _events(collector: Collector) -> int:
    return sum(1 for _, kind, _ in collector.arrivals if kind == "event")


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_replay_is_rate_bounded_and_a_fire_alarm_overtakes_it(
    broker: MosquittoBroker | AmqttThread, tmp_path: Path
) -> None:
    async with running_link(broker, tmp_path / "o.db", 150, max_rate=50) as (
        collector,
        outbox,
        link,
    ):
        await _until(lambda: _events(collector) >= 60)
        outbox.add("alarm", lambda seq: b"fire")
        raised = time.monotonic()
        link.wake()
        await _until(lambda: any(kind == "alarm" for _, kind, _ in collector.arrivals))
        alarm_at = next(at for at, kind, _ in collector.arrivals if kind == "alarm")
        events_before = sum(
            1 for at, kind, _ in collector.arrivals if kind == "event" and at < alarm_at
        )
        assert alarm_at - raised < 0.5, "the fire alarm waited behind the replay"
        assert events_before < 150, "the fire alarm came only after the whole backlog"
        await _until(lambda: _events(collector) >= 150, timeout=15)
    times = sorted(at for at, kind, _ in collector.arrivals if kind == "event")
    # 150 events at 50/s with a full bucket of 50 to start: at least about 2 s.
    assert times[-1] - times[0] >= 1.8
    order = [payload for _, kind, payload in collector.arrivals if kind == "event"]
    assert order == [f"event {i}".encode() for i in range(150)], "the backlog went out in order"


async def test_without_confirmations_the_edge_stops_at_its_window_but_fire_still_goes(
    broker: MosquittoBroker | AmqttThread, tmp_path: Path
) -> None:
    async with running_link(broker, tmp_path / "o.db", 100, max_unconfirmed=20) as (
        collector,
        outbox,
        link,
    ):
        await _until(lambda: outbox.handed_over >= 20)
        outbox.add("alarm", lambda seq: b"fire")
        link.wake()
        await _until(lambda: any(kind == "alarm" for _, kind, _ in collector.arrivals))
        link.wake()
        await asyncio.sleep(0.5)  # the test is that nothing more goes out in this time
        assert _events(collector) == 20
        assert outbox.status()["event"].unsent == 80


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="restarting a broker needs mosquitto")
async def test_a_broker_that_lost_the_session_gets_the_unconfirmed_rows_again_at_once(
    tmp_path: Path,
) -> None:
    broker = MosquittoBroker(persistence=False)
    broker.start()
    try:
        async with running_link(broker, tmp_path / "o.db", 5) as (collector, outbox, _):
            await _until(lambda: outbox.handed_over == 5 and _events(collector) == 5)
            # Restarted without persistence: the broker forgets the node's session and every
            # message it held for subscribers; no cloud ever confirmed the five rows.
            broker.restart()
            listener = Collector(broker)  # subscribed before the link's reconnect (1 s on)
            try:
                # Well inside the 30 s confirmation timeout that would resend them otherwise.
                await _until(lambda: _events(listener) == 5, timeout=10)
            finally:
                listener.close()
    finally:
        broker.stop()


def _retain_cloud_state(broker: MosquittoBroker | AmqttThread, payload: bytes) -> None:
    """Set (or with b"" clear) the cloud's retained state, as a cloud session does."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"s-{uuid.uuid4().hex[:6]}")
    client.connect(broker.address.host, broker.address.port)
    client.loop_start()
    client.publish(wire.CLOUD_STATE_TOPIC, payload, qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _online(ts: int) -> bytes:
    return json.dumps({"v": 1, "online": True, "ts": ts}).encode()


async def test_a_new_cloud_session_gets_the_unconfirmed_rows_again_at_once(
    broker: MosquittoBroker | AmqttThread, tmp_path: Path
) -> None:
    try:
        async with running_link(broker, tmp_path / "o.db", 5) as (collector, outbox, link):
            await _until(lambda: outbox.handed_over == 5 and _events(collector) == 5)
            # A cloud comes up (after a broker restart it may subscribe after the edge
            # published, and the broker dropped those rows): sent again well inside the 30 s
            # confirmation timeout.
            _retain_cloud_state(broker, _online(1_000))
            await _until(lambda: _events(collector) == 10)
            # The same state again (retained, on the next connect) is the same cloud session.
            _retain_cloud_state(broker, _online(1_000))
            await _until(lambda: outbox.handed_over == 5)
            link.wake()
            await asyncio.sleep(0.5)  # the test is that nothing more goes out in this time
            assert _events(collector) == 10
    finally:
        _retain_cloud_state(broker, b"")  # the other tests' links must not see it
