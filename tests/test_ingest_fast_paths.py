"""The shortcuts ingest takes for speed give the same answers as the long ways they skip.

- `wire.decode`'s one-step path for payloads as `wire.encode` writes them refuses what the
  checked path refuses (a contract version of 1.0 or true, a repeated "v", a foreign site);
- `IngestClient` parses PUBLISH packets (MQTT 3.1.1 and 5) and writes PUBACKs as paho would;
- `cloud.bulk` inserts rows exactly (floats, times), skips stored positions, refuses what a plain
  INSERT refuses, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import struct
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cloud import bulk
from cloud.ingest_client import IngestClient
from cloud.models import StoredMessage
from cloud.telemetry.tables import RawSample
from sitewatch import wire

TOPIC = "sw/v1/harbour-view/pumproom/event"


def _event(seq: int = 1) -> wire.Event:
    value = wire.PointValue(device="supply-pressure", point="pressure", value=0.45, ts=1000)
    return wire.Event(
        site="harbour-view",
        node="pumproom",
        stream="ba7c4ba7c4000001",
        seq=seq,
        boot=1,
        ts=1000,
        items=[value],
    )


def test_encoded_payloads_take_the_fast_path_and_decode_the_same() -> None:
    topic, payload = wire.encode(_event())
    parsed = wire.Topic.parse(topic)
    assert wire._decode_fast(parsed, payload) == wire.decode(topic, payload) == _event()


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'{"v":1.0,', "unknown contract version 1.0"),
        (b'{"v":true,', "unknown contract version True"),
        (b'{"v":1,"v":1.0,', "unknown contract version 1.0"),
        (b'{"v":1,"site":"elsewhere",', "does not match topic site"),
    ],
)
def test_the_fast_path_refuses_what_the_checked_path_refuses(payload: bytes, problem: str) -> None:
    body = json.loads(wire.encode(_event())[1])
    del body["v"]
    if b'"site"' in payload:
        del body["site"]
    rest = json.dumps(body, separators=(",", ":")).encode()[1:]
    with pytest.raises(wire.WireError, match=problem):
        wire.decode(TOPIC, payload + rest)


def _publish(topic: str, payload: bytes, mid: int, v5: bool) -> bytes:
    """The variable header and payload of a QoS 1 PUBLISH (what paho's `_in_packet` holds)."""
    name = topic.encode()
    properties = b"\x03\x23\x00\x05" if v5 else b""  # length 3: a topic alias property
    return struct.pack("!H", len(name)) + name + struct.pack("!H", mid) + properties + payload


@pytest.mark.parametrize("v5", [False, True], ids=["mqtt311", "mqtt5"])
def test_ingest_client_hands_a_publish_to_its_receiver(v5: bool) -> None:
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    got: list[tuple[str, bytes, int, int]] = []
    client.receiver = lambda *message: got.append(message)
    client._in_packet["command"] = 0x32  # PUBLISH, QoS 1
    client._in_packet["packet"] = bytearray(_publish(TOPIC, b'{"x":1}', 4711, v5))
    assert client._handle_publish() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert got == [(TOPIC, b'{"x":1}', 4711, 1)]


def _packet(command: int, body: bytes) -> bytes:
    assert len(body) < 128  # one byte of remaining length
    return bytes([command, len(body)]) + body


def test_ingest_client_reads_whole_publishes_at_once_and_leaves_the_rest_to_paho() -> None:
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311, manual_ack=True)
    got: list[tuple[str, bytes, int, int]] = []
    client.receiver = lambda *message: got.append(message)
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours
    client._ping_t = 123.0  # a PINGREQ is out: paho clears this when the PINGRESP comes
    by_paho: list[int] = []
    paho_publish = client._handle_publish
    client._handle_publish = lambda: by_paho.append(1) or paho_publish()  # type: ignore[method-assign]
    publish = [
        _packet(0x32, _publish("sw/v1/s/n/event", b'{"m":%d}' % m, m, False)) for m in (1, 2, 3, 4)
    ]
    qos0 = _packet(0x30, struct.pack("!H", 15) + b"sw/v1/s/n/event" + b'{"m":0}')
    split = len(publish[2]) // 2
    try:
        # One read: two publishes around a PINGRESP, a QoS 0 publish, and half of the third.
        broker.sendall(publish[0] + b"\xd0\x00" + publish[1] + qos0 + publish[2][:split])
        while len(got) < 3:
            client.loop_read()
        broker.sendall(publish[2][split:] + publish[3])
        while len(got) < 5:
            client.loop_read()
    finally:
        ours.close()
        broker.close()
    assert [(topic, payload, mid, qos) for topic, payload, mid, qos in got] == [
        ("sw/v1/s/n/event", b'{"m":1}', 1, 1),
        ("sw/v1/s/n/event", b'{"m":2}', 2, 1),
        ("sw/v1/s/n/event", b'{"m":0}', 0, 0),
        ("sw/v1/s/n/event", b'{"m":3}', 3, 1),
        ("sw/v1/s/n/event", b'{"m":4}', 4, 1),
    ]
    assert client._ping_t == 0, "the PINGRESP between them went to paho"
    # paho reads the packet that begins a read (it asks for the socket's next byte), and one
    # split across reads; the others are taken whole.
    assert len(by_paho) == 2


def test_ingest_client_leaves_a_malformed_publish_to_paho() -> None:
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    client.receiver = lambda *message: pytest.fail("a malformed packet reached the receiver")
    client._in_packet["command"] = 0x32
    client._in_packet["packet"] = bytearray(struct.pack("!H", 200) + b"sw/v1")  # topic too long
    with pytest.raises(Exception):  # noqa: B017 - paho's own MalformedPacket or struct.error
        client._handle_publish()


def test_ingest_client_acks_a_batch_in_one_packet_of_pubacks() -> None:
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    client.ack_many([1, 2, 65535])
    (queued,) = client._out_packet
    assert queued["packet"] == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\xff\xff"


def _message_row(seq: int, received_at: datetime) -> dict[str, object]:
    event = _event(seq)
    return {
        "site": event.site,
        "node": event.node,
        "stream": event.stream,
        "seq": seq,
        "boot": 1,
        "kind": "event",
        "source_ts": 1000,
        "received_at": received_at,
        "payload": wire.encode(event)[1].decode(),
    }


def test_bulk_insert_new_skips_stored_positions(sessions: sessionmaker[Session]) -> None:
    at = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
    key = ("site", "node", "stream", "seq")
    table = StoredMessage.__table__
    with sessions.begin() as session:
        first = bulk.insert_new(session, table, [_message_row(1, at), _message_row(2, at)], key)
    with sessions.begin() as session:
        again = bulk.insert_new(session, table, [_message_row(2, at), _message_row(3, at)], key)
    assert sorted(seq for *_, seq in first) == [1, 2]
    assert [seq for *_, seq in again] == [3]
    with sessions() as session:
        stored = session.scalars(select(StoredMessage).order_by(StoredMessage.seq)).all()
    assert [m.seq for m in stored] == [1, 2, 3]
    assert stored[0].received_at == at
    assert stored[0].payload == json.loads(wire.encode(_event(1))[1])


def test_bulk_insert_keeps_floats_exactly(sessions: sessionmaker[Session]) -> None:
    values = [0.1, 0.45, 1 / 3, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0]
    rows = [
        {"site": "s", "node": "n", "device": "d", "point": "p", "ts": 2**62 + i, "value": v}
        for i, v in enumerate(values)
    ]
    with sessions.begin() as session:
        bulk.insert(session, RawSample.__table__, rows)
    with sessions() as session:
        stored = session.execute(select(RawSample.ts, RawSample.value).order_by(RawSample.ts))
        assert [tuple(row) for row in stored] == [(2**62 + i, v) for i, v in enumerate(values)]


def test_bulk_insert_refuses_an_over_long_string_on_postgresql(
    sessions: sessionmaker[Session],
) -> None:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    row = {"site": "s" * 65, "node": "n", "device": "d", "point": "p", "ts": 1, "value": 1.0}
    with pytest.raises(DBAPIError), sessions.begin() as session:
        bulk.insert(session, RawSample.__table__, [row])
