"""Bad input never stops ingest: each malformed message is dead-lettered with its reason."""

from __future__ import annotations

import asyncio
import json
import uuid

import paho.mqtt.client as mqtt

from sitewatch import wire
from tests.conftest import Stack, eventually

TOPIC = "sw/v1/harbour-view/pumproom/event"


def _publish_all(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:6]}")
    client.connect(host, port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _event(node: str = "pumproom", seq: int = 1, **overrides: object) -> dict:
    body = {
        "v": 1,
        "site": "harbour-view",
        "node": node,
        "stream": "feedfacecafe0001",
        "seq": seq,
        "boot": 1,
        "ts": wire.now_ms(),
        "items": [
            {"type": "point", "device": "pumproom-leak", "point": "zone4", "value": True, "ts": 1}
        ],
    }
    body.update(overrides)
    return body


async def test_malformed_messages_are_dead_lettered_and_ingest_goes_on(stack: Stack) -> None:
    await eventually(lambda: stack.get("/api/nodes"))
    bad = [
        (TOPIC, b"\x00\xffnot json"),
        (TOPIC, json.dumps(_event(node="boiler-room")).encode()),
        (TOPIC, json.dumps(_event(v=2)).encode()),
        (TOPIC, json.dumps(_event(seq=0)).encode()),
        ("sw/v1/harbour-view/ghost/event", json.dumps(_event(node="ghost")).encode()),
        (
            TOPIC,
            json.dumps(
                _event(
                    items=[{"type": "point", "device": "nope", "point": "x", "value": 1, "ts": 1}]
                )
            ).encode(),
        ),
    ]
    address = stack.cloud.ingest.broker
    await asyncio.to_thread(_publish_all, address.host, address.port, bad)

    async def all_dead_lettered() -> list[dict] | None:
        letters = await stack.get("/api/dead-letters")
        return letters if len(letters) >= len(bad) else None

    letters = await eventually(all_dead_lettered)
    reasons = sorted(letter["reason"] for letter in letters)
    expected_fragments = [
        "payload is not JSON",
        "payload node 'boiler-room' does not match topic node 'pumproom'",
        "unknown contract version 2 (this build speaks 1)",
        "invalid event payload: seq: Input should be greater than or equal to 1",
        "node harbour-view/ghost is not in any configured site file",
        "point nope.x is not configured on node pumproom",
    ]
    for fragment in expected_fragments:
        assert any(fragment in reason for reason in reasons), (fragment, reasons)

    # Ingest is still alive: a real field change still becomes an alarm.
    await stack.room.leak("pumproom-leak", zone=1)

    async def leak_alarm() -> bool:
        return any(a["point"] == "zone1" for a in await stack.alarms())

    await eventually(leak_alarm)


async def test_a_duplicate_message_is_stored_once(stack: Stack) -> None:
    await eventually(lambda: stack.get("/api/nodes"))
    message = json.dumps(_event(seq=7)).encode()
    address = stack.cloud.ingest.broker
    await asyncio.to_thread(_publish_all, address.host, address.port, [(TOPIC, message)] * 3)

    async def zone4_alarm() -> list[dict] | None:
        alarms = [a for a in await stack.alarms() if a["point"] == "zone4"]
        return alarms or None

    alarms = await eventually(zone4_alarm)
    assert len(alarms) == 1
    with stack.cloud.sessions() as session:
        from sqlalchemy import func, select

        from cloud.models import StoredMessage

        count = session.scalar(
            select(func.count()).where(
                StoredMessage.stream == "feedfacecafe0001", StoredMessage.seq == 7
            )
        )
    assert count == 1


def _publish_and_collect_acks(
    host: str, port: int, topic: str, payload: bytes, want_stream: str, timeout: float = 10.0
) -> list[wire.Ack]:
    """Publish one message and collect the cloud's acks for `want_stream` until one arrives."""
    import threading

    got: list[wire.Ack] = []
    arrived = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:6]}")

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        ack = wire.decode(message.topic, message.payload)
        if isinstance(ack, wire.Ack) and ack.stream == want_stream:
            got.append(ack)
            arrived.set()

    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    try:
        client.subscribe("sw/v1/harbour-view/pumproom/ack", qos=1)
        client.publish(topic, payload, qos=1).wait_for_publish(5)
        arrived.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return got


async def test_a_rejected_message_is_still_confirmed_so_the_edge_stops_resending(
    stack: Stack,
) -> None:
    await eventually(lambda: stack.get("/api/nodes"))
    address = stack.cloud.ingest.broker
    bad = json.dumps(_event(seq=5, v=2, stream="deadbeef00000042")).encode()
    acks = await asyncio.to_thread(
        _publish_and_collect_acks, address.host, address.port, TOPIC, bad, "deadbeef00000042"
    )
    assert acks, "no ack for the dead-lettered message"
    assert (5, 5) in acks[0].ranges
    letters = await stack.get("/api/dead-letters")
    assert any("unknown contract version 2" in letter["reason"] for letter in letters)
