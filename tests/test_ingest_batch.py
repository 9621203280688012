"""Ingest stores a batch in one transaction, yet judges each message on its own.

A batch shares its database round trips (that is what makes thousands of messages a second
possible), but a bad message still only dead-letters itself, and a position repeated within a
batch is still stored once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alarms import engine
from cloud.ingest import ACK_EARLY, Incoming, Ingest
from cloud.models import DeadLetter, PointRecord, StoredMessage
from sitewatch import wire
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Site
from tests.brokers import AmqttThread, MosquittoBroker
from tests.conftest import eventually

STREAM = "ba7c4ba7c4000001"
TOPIC = "sw/v1/harbour-view/pumproom/event"


def _event(seq: int, *points: tuple[str, str, wire.Value]) -> Incoming:
    items = [
        {"type": "point", "device": d, "point": p, "value": v, "ts": 1000 + seq}
        for d, p, v in points
    ]
    body = {
        "v": 1,
        "site": "harbour-view",
        "node": "pumproom",
        "stream": STREAM,
        "seq": seq,
        "boot": 1,
        "ts": 1000 + seq,
        "items": items,
    }
    return Incoming(TOPIC, json.dumps(body).encode(), mid=seq, qos=0)


@pytest.fixture
def ingest(sessions: sessionmaker[Session], example_site: Site) -> Iterator[Ingest]:
    # Never started: store_batch is driven directly, the broker is not needed.
    yield Ingest(
        {example_site.id: example_site}, sessions, BrokerAddress.parse("mqtt://127.0.0.1:1")
    )


def _positions(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return sorted(session.scalars(select(StoredMessage.seq)))


def _point(sessions: sessionmaker[Session], device: str, name: str) -> PointRecord | None:
    with sessions() as session:
        return session.scalar(
            select(PointRecord).where(PointRecord.device == device, PointRecord.point == name)
        )


def _pending(ingest: Ingest) -> list[int]:
    return sorted(
        seq for lane in ingest.lanes for seqs in lane.pending_acks.values() for seq in seqs
    )


def test_a_position_repeated_within_a_batch_is_stored_once_and_confirmed_each_time(
    ingest: Ingest, sessions: sessionmaker[Session]
) -> None:
    leak = ("pumproom-leak", "zone3", True)
    ingest.store_batch([_event(1, leak), _event(2, leak), _event(1, leak)])
    assert _positions(sessions) == [1, 2]
    assert _pending(ingest) == [1, 1, 2]


def test_a_rejected_message_leaves_nothing_of_itself_and_its_batch_goes_in(
    ingest: Ingest, sessions: sessionmaker[Session]
) -> None:
    # Its first point is fine, its second is not configured: the message is refused whole.
    mixed = _event(2, ("supply-pressure", "pressure", 0.61), ("nope", "x", 1))
    ingest.store_batch(
        [
            _event(1, ("fire-tank", "level", 3.2)),
            mixed,
            _event(3, ("pumproom-leak", "zone4", False)),
        ]
    )
    assert _positions(sessions) == [1, 3]
    assert _point(sessions, "supply-pressure", "pressure") is None
    level = _point(sessions, "fire-tank", "level")
    assert level is not None and level.value == 3.2
    with sessions() as session:
        (letter,) = session.scalars(select(DeadLetter))
    assert "point nope.x is not configured on node pumproom" in letter.reason
    assert _pending(ingest) == [1, 2, 3], "the refused message is confirmed too"


def test_an_internal_error_dead_letters_only_the_message_that_caused_it(
    ingest: Ingest, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = engine.on_point_value

    def broken_for_zone2(work, site, device, point, value, at):  # type: ignore[no-untyped-def]
        if point == "zone2":
            raise KeyError("a bug of ours, found by one message")
        return real(work, site, device, point, value, at)

    monkeypatch.setattr(engine, "on_point_value", broken_for_zone2)
    batch = [
        _event(1, ("pumproom-leak", "zone1", True)),
        _event(2, ("pumproom-leak", "zone2", True)),
        _event(3, ("pumproom-leak", "zone1", False)),
    ]
    ingest.store_batch(batch)
    assert _positions(sessions) == [1, 3]
    with sessions() as session:
        (letter,) = session.scalars(select(DeadLetter))
        alarms = session.scalar(select(func.count()).select_from(engine.AlarmRecord))
    assert letter.reason.startswith("internal error while storing: KeyError")
    assert letter.payload == batch[1].payload, "the raw bytes are kept for a replay once fixed"
    assert alarms == 1, "zone1 raised and cleared its alarm around the failure"
    assert _pending(ingest) == [1, 2, 3]


class _AckCollector:
    """A plain MQTT client that records every seq the cloud confirms for STREAM."""

    def __init__(self, address: BrokerAddress) -> None:
        self.seqs: set[int] = set()
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-acks-{uuid.uuid4().hex[:6]}"
        )
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        self.client.subscribe("sw/v1/harbour-view/pumproom/ack", qos=1)
        if not subscribed.wait(10):
            raise TimeoutError("the broker never confirmed the ack subscription")

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        ack = wire.decode(message.topic, message.payload)
        if isinstance(ack, wire.Ack) and ack.stream == STREAM:
            with self._lock:
                for low, high in ack.ranges:
                    self.seqs.update(range(low, high + 1))

    def confirmed(self) -> int:
        with self._lock:
            return len(self.seqs)

    def publish(self, messages: list[Incoming]) -> None:
        for message in messages:
            self.client.publish(message.topic, message.payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_a_full_batch_is_confirmed_without_waiting_out_the_interval(
    broker: MosquittoBroker | AmqttThread,
    sessions: sessionmaker[Session],
    example_site: Site,
) -> None:
    # The edge holds its backlog until rows are confirmed: were confirmations held for the whole
    # interval, a replay would move one window per interval.
    interval = 30.0
    ingest = Ingest(
        {example_site.id: example_site},
        sessions,
        broker.address,
        client_id=f"sw-cloud-test-{uuid.uuid4().hex[:8]}",
        ack_interval_s=interval,
    )
    ingest.start()
    acks = _AckCollector(broker.address)
    try:
        await asyncio.to_thread(ingest.connected.wait, 10)

        async def first_confirmed() -> bool:
            return acks.confirmed() == 1

        # The first confirmation goes out at once; from then on the interval runs.
        await asyncio.to_thread(acks.publish, [_event(1, ("pumproom-leak", "zone4", False))])
        await eventually(first_confirmed)
        many = [
            _event(seq, ("pumproom-leak", "zone4", False)) for seq in range(2, 2 + 2 * ACK_EARLY)
        ]
        await asyncio.to_thread(acks.publish, many)

        async def most_confirmed() -> int | None:
            count = acks.confirmed()
            return count if count > ACK_EARLY else None

        await eventually(most_confirmed, timeout=interval / 3)
    finally:
        acks.close()
        ingest.stop()
