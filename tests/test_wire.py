"""Tests for `sitewatch.wire`: topics, encode/decode round trips, decode errors, seq ranges."""

from __future__ import annotations

import contextlib
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.wire import (
    CLOUD_STATE_TOPIC,
    CONTRACT_VERSION,
    MAX_PAYLOAD_BYTES,
    TOPIC_ROOT,
    Ack,
    Alarm,
    Birth,
    Command,
    Death,
    DeviceStatus,
    Event,
    Kind,
    Message,
    PointValue,
    Quality,
    Telemetry,
    Topic,
    WireError,
    decode,
    encode,
    seq_ranges,
)

SITE = "harbour-view"
NODE = "pumproom"
STREAM = "0f3c9a2e-boot7"
HEADER = {"site": SITE, "node": NODE}
ENVELOPE = {**HEADER, "stream": STREAM, "boot": 7, "ts": 1_700_000_000_000}


def point(name: str = "pressure", value: object = 0.42, **extra: object) -> PointValue:
    return PointValue(
        device="supply-pressure", point=name, value=value, ts=1_700_000_000_000, **extra
    )


# --------------------------------------------------------------------------------------------
# Topics


def test_topic_str_and_parse_round_trip() -> None:
    topic = Topic(SITE, NODE, Kind.EVENT)
    assert str(topic) == "sw/v1/harbour-view/pumproom/event"
    assert Topic.parse(str(topic)) == topic


def test_command_topic_carries_the_command_name() -> None:
    topic = Topic(SITE, NODE, Kind.CMD, "reload-config")
    assert str(topic) == "sw/v1/harbour-view/pumproom/cmd/reload-config"
    parsed = Topic.parse("sw/v1/harbour-view/pumproom/cmd/reload-config")
    assert parsed == topic
    assert parsed.command == "reload-config"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_round_trips(kind: Kind) -> None:
    command = "ping" if kind is Kind.CMD else None
    topic = Topic("site_1", "node.A-2", kind, command)
    assert str(topic).startswith(f"{TOPIC_ROOT}/site_1/node.A-2/{kind.value}")
    assert Topic.parse(str(topic)) == topic


def test_topic_filter() -> None:
    assert Topic.filter() == "sw/v1/+/+/+"
    assert Topic.filter(SITE, kind=Kind.ALARM) == "sw/v1/harbour-view/+/alarm"
    assert Topic.filter(SITE, NODE, "event") == "sw/v1/harbour-view/pumproom/event"


@pytest.mark.parametrize(
    "site, node",
    [
        ("+", NODE),
        ("#", NODE),
        ("a/b", NODE),
        ("", NODE),
        (SITE, "+"),
        (SITE, "#"),
        (SITE, "x/y"),
        (SITE, ""),
        ("-leading-dash", NODE),
        ("x" * 65, NODE),
        ("has space", NODE),
    ],
)
def test_topic_rejects_bad_segments(site: str, node: str) -> None:
    which, bad = ("site", site) if site != SITE else ("node", node)
    with pytest.raises(WireError) as caught:
        Topic(site, node, Kind.EVENT)
    assert str(caught.value) == (
        f"{which} {bad!r} is not a valid topic segment "
        "(1-64 characters: letters, digits, '_', '-', '.'; no '/', '+' or '#')"
    )


def test_topic_segment_length_limit_is_64() -> None:
    assert Topic("x" * 64, NODE, Kind.EVENT).site == "x" * 64


@pytest.mark.parametrize("command", ["+", "#", "a/b", ""])
def test_topic_rejects_bad_command_segments(command: str) -> None:
    with pytest.raises(WireError, match=r"^command .* is not a valid topic segment"):
        Topic(SITE, NODE, Kind.CMD, command)


def test_command_name_only_on_command_topics() -> None:
    message = "a command topic needs a command name, and only a command topic"
    with pytest.raises(WireError, match=f"^{message}$"):
        Topic(SITE, NODE, Kind.CMD)
    with pytest.raises(WireError, match=f"^{message}$"):
        Topic(SITE, NODE, Kind.EVENT, "ping")
    with pytest.raises(WireError, match=f"^{message}$"):
        Topic.parse("sw/v1/harbour-view/pumproom/cmd")
    with pytest.raises(WireError, match=f"^{message}$"):
        Topic.parse("sw/v1/harbour-view/pumproom/event/extra")


def test_site_cloud_is_reserved() -> None:
    with pytest.raises(WireError, match="site 'cloud' is reserved"):
        Topic("cloud", NODE, Kind.EVENT)
    with pytest.raises(WireError, match="is not a Sitewatch topic"):
        Topic.parse(CLOUD_STATE_TOPIC)


def test_parse_rejects_unknown_kind() -> None:
    with pytest.raises(WireError) as caught:
        Topic.parse("sw/v1/harbour-view/pumproom/status")
    assert str(caught.value) == (
        "topic 'sw/v1/harbour-view/pumproom/status' has unknown kind 'status' "
        "(known: birth, death, event, alarm, telemetry, ack, cmd, cards)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sw/v1",
        "sw/v1/harbour-view/pumproom",
        "sw/v2/harbour-view/pumproom/event",
        "xx/v1/harbour-view/pumproom/event",
        "sw/v1/harbour-view/pumproom/cmd/ping/extra",
        "/sw/v1/harbour-view/pumproom/event",
    ],
)
def test_parse_rejects_foreign_topics(text: str) -> None:
    with pytest.raises(WireError) as caught:
        Topic.parse(text)
    assert str(caught.value) == (
        f"topic {text!r} is not a Sitewatch topic: expected sw/v1/{{site}}/{{node}}/{{kind}}"
    )


@pytest.mark.parametrize(
    "text",
    ["sw/v1/+/pumproom/event", "sw/v1/harbour-view/#/event", "sw/v1//pumproom/event"],
)
def test_parse_rejects_wildcards_and_empty_segments(text: str) -> None:
    with pytest.raises(WireError, match="is not a valid topic segment"):
        Topic.parse(text)


# --------------------------------------------------------------------------------------------
# Encode -> decode round trips


def round_trip(message: Message) -> Message:
    topic, payload = encode(message)
    assert isinstance(payload, bytes)
    assert topic == str(message.topic)
    decoded = decode(topic, payload)
    assert type(decoded) is type(message)
    assert decoded == message
    return decoded


def test_birth_round_trip() -> None:
    birth = Birth(
        **ENVELOPE,
        seq=1,
        software="sitewatch 0.1.0",
        config_hash="0123456789abcdef",
        points=[point(), point("running", True), point("starts_today", 3)],
        devices=[DeviceStatus(device="supply-pressure", online=True, ts=1)],
    )
    topic, payload = encode(birth)
    assert topic == "sw/v1/harbour-view/pumproom/birth"
    assert json.loads(payload)["v"] == CONTRACT_VERSION
    decoded = round_trip(birth)
    assert isinstance(decoded, Birth)
    assert [p.value for p in decoded.points] == [0.42, True, 3]


def test_event_round_trip_with_point_values_and_device_status() -> None:
    event = Event(
        **ENVELOPE,
        seq=42,
        items=[
            point("pressure", 0.31),
            point("running", False),
            point("start_cause", 1),
            point("mode", "auto"),
            point("pressure", None, quality=Quality.BAD),
            DeviceStatus(device="jockey-pump", online=False, reason="no response", ts=5),
            DeviceStatus(device="jockey-pump", online=True, ts=6),
        ],
    )
    topic, payload = encode(event)
    assert topic == "sw/v1/harbour-view/pumproom/event"
    assert [item["type"] for item in json.loads(payload)["items"]] == [
        "point",
        "point",
        "point",
        "point",
        "point",
        "device",
        "device",
    ]
    decoded = round_trip(event)
    assert isinstance(decoded, Event)
    values = [item.value for item in decoded.items if isinstance(item, PointValue)]
    # bool stays bool, int stays int, float stays float.
    assert [type(v) for v in values] == [float, bool, int, str, type(None)]
    assert decoded.items[4].quality is Quality.BAD
    statuses = [item for item in decoded.items if isinstance(item, DeviceStatus)]
    assert [(s.online, s.reason) for s in statuses] == [(False, "no response"), (True, None)]


def test_alarm_round_trip() -> None:
    alarm = Alarm(**ENVELOPE, seq=3, items=[point("waterflow", True)])
    assert encode(alarm)[0] == "sw/v1/harbour-view/pumproom/alarm"
    round_trip(alarm)


def test_telemetry_round_trip() -> None:
    telemetry = Telemetry(
        **ENVELOPE, seq=9, samples=[point("pressure", 0.30 + i / 100) for i in range(50)]
    )
    assert encode(telemetry)[0] == "sw/v1/harbour-view/pumproom/telemetry"
    round_trip(telemetry)


def test_death_round_trip() -> None:
    death = Death(**ENVELOPE)
    assert encode(death)[0] == "sw/v1/harbour-view/pumproom/death"
    round_trip(death)


def test_ack_round_trip() -> None:
    ack = Ack(**HEADER, stream=STREAM, ranges=[(1, 5), (7, 7), (10, 12)])
    topic, payload = encode(ack)
    assert topic == "sw/v1/harbour-view/pumproom/ack"
    assert json.loads(payload)["ranges"] == [[1, 5], [7, 7], [10, 12]]
    decoded = round_trip(ack)
    assert isinstance(decoded, Ack)
    assert decoded.ranges == [(1, 5), (7, 7), (10, 12)]


def test_command_round_trip() -> None:
    command = Command(**HEADER, name="set-scan", args={"fast_ms": 100, "devices": ["a"]}, ts=1)
    topic, payload = encode(command)
    assert topic == "sw/v1/harbour-view/pumproom/cmd/set-scan"
    assert json.loads(payload)["name"] == "set-scan"
    decoded = round_trip(command)
    assert isinstance(decoded, Command)
    assert decoded.args == {"fast_ms": 100, "devices": ["a"]}


def test_defaults_are_filled_in_on_decode() -> None:
    payload = json.dumps({"v": 1, **HEADER, "name": "ping", "ts": 1}).encode()
    decoded = decode("sw/v1/harbour-view/pumproom/cmd/ping", payload)
    assert decoded == Command(**HEADER, name="ping", ts=1)
    assert decoded.args == {}


# --------------------------------------------------------------------------------------------
# Decode errors


def event_payload(**changes: object) -> dict:
    _, payload = encode(Event(**ENVELOPE, seq=1, items=[point()]))
    data = json.loads(payload)
    data.update(changes)
    return data


def decode_error(topic: str, payload: bytes) -> str:
    with pytest.raises(WireError) as caught:
        decode(topic, payload)
    return str(caught.value)


EVENT_TOPIC = "sw/v1/harbour-view/pumproom/event"


def test_valid_event_payload_decodes() -> None:
    assert isinstance(decode(EVENT_TOPIC, json.dumps(event_payload()).encode()), Event)


def test_payload_node_must_match_topic_node() -> None:
    payload = json.dumps(event_payload(node="gate-house")).encode()
    assert decode_error(EVENT_TOPIC, payload) == (
        "payload node 'gate-house' does not match topic node 'pumproom'"
    )


def test_payload_site_must_match_topic_site() -> None:
    payload = json.dumps(event_payload(site="other-site")).encode()
    assert decode_error(EVENT_TOPIC, payload) == (
        "payload site 'other-site' does not match topic site 'harbour-view'"
    )


def test_command_name_must_match_topic_command() -> None:
    _, payload = encode(Command(**HEADER, name="reboot", ts=1))
    assert decode_error("sw/v1/harbour-view/pumproom/cmd/ping", payload) == (
        "command name 'reboot' does not match topic command 'ping'"
    )


def test_unknown_contract_version() -> None:
    payload = json.dumps(event_payload(v=2)).encode()
    assert decode_error(EVENT_TOPIC, payload) == (
        "unknown contract version 2 (this build speaks 1)"
    )


def test_missing_contract_version() -> None:
    data = event_payload()
    del data["v"]
    assert decode_error(EVENT_TOPIC, json.dumps(data).encode()) == (
        "payload has no contract version 'v'"
    )


@pytest.mark.parametrize("payload", [b"", b"not json", b"{'v': 1}", b'{"v": 1', b"\xff\xfe\x00"])
def test_non_json_payload(payload: bytes) -> None:
    assert decode_error(EVENT_TOPIC, payload).startswith("payload is not JSON: ")


@pytest.mark.parametrize(
    "payload, type_name",
    [(b"[1, 2]", "list"), (b'"event"', "str"), (b"42", "int"), (b"null", "NoneType")],
)
def test_payload_must_be_an_object(payload: bytes, type_name: str) -> None:
    assert decode_error(EVENT_TOPIC, payload) == (f"payload must be a JSON object, got {type_name}")


def test_oversize_payload() -> None:
    data = event_payload()
    data["pad"] = "x" * MAX_PAYLOAD_BYTES
    payload = json.dumps(data).encode()
    assert decode_error(EVENT_TOPIC, payload) == (
        f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit"
    )


def test_payload_at_the_size_limit_is_not_rejected_for_size() -> None:
    payload = b" " * (MAX_PAYLOAD_BYTES - 2) + b"{}"
    assert decode_error(EVENT_TOPIC, payload) == "payload has no contract version 'v'"


def test_invalid_field_names_its_path() -> None:
    data = event_payload()
    data["items"][0]["ts"] = "yesterday"
    message = decode_error(EVENT_TOPIC, json.dumps(data).encode())
    assert message.startswith("invalid event payload: ")
    assert "items.0.point.ts" in message


def test_invalid_envelope_field() -> None:
    message = decode_error(EVENT_TOPIC, json.dumps(event_payload(seq=0)).encode())
    assert message == "invalid event payload: seq: Input should be greater than or equal to 1"


def test_unknown_field_is_rejected() -> None:
    message = decode_error(EVENT_TOPIC, json.dumps(event_payload(colour="red")).encode())
    assert message == "invalid event payload: colour: Extra inputs are not permitted"


def test_every_problem_is_listed() -> None:
    data = event_payload(items=[], boot=-1)
    del data["stream"]
    message = decode_error(EVENT_TOPIC, json.dumps(data).encode())
    assert message.startswith("invalid event payload: ")
    assert "stream: Field required" in message
    assert "boot: Input should be greater than or equal to 0" in message
    assert "items: List should have at least 1 item" in message
    assert message.count("; ") == 2


def test_unknown_event_item_type() -> None:
    data = event_payload(items=[{"type": "weather", "device": "d", "ts": 1}])
    message = decode_error(EVENT_TOPIC, json.dumps(data).encode())
    assert message.startswith("invalid event payload: items.0: ")
    assert "'weather'" in message


def test_bad_topic_is_a_wire_error() -> None:
    payload = json.dumps(event_payload()).encode()
    assert "unknown kind 'evnt'" in decode_error("sw/v1/harbour-view/pumproom/evnt", payload)
    assert "is not a valid topic segment" in decode_error("sw/v1/+/pumproom/event", payload)


def test_a_card_list_round_trips_and_a_bad_entry_is_named() -> None:
    from sitewatch.wire import CardEntry, CardList, CardStatus, CardType

    cards = CardList(
        site="harbour-view",
        node="gate",
        version=7,
        ts=1,
        cards=[
            CardEntry(card="0A00BC614E", type=CardType.RESIDENT, status=CardStatus.ACTIVE),
            CardEntry(card="W26:12:34567", type=CardType.TEMPORARY, status=CardStatus.ACTIVE,
                      valid_from=1, valid_until=2, lanes=["lane-in"]),
        ],
    )  # fmt: skip
    topic, payload = encode(cards)
    assert topic == "sw/v1/harbour-view/gate/cards"
    assert decode(topic, payload) == cards
    data = json.loads(payload)
    data["cards"][1]["status"] = "stolen"
    message = decode_error(topic, json.dumps(data).encode())
    assert message.startswith("invalid cards payload: cards.1.status: ")


def test_a_card_list_may_be_larger_than_an_event_but_not_unbounded() -> None:
    from sitewatch.wire import MAX_CARDS_PAYLOAD_BYTES

    big = b" " * (MAX_PAYLOAD_BYTES + 1)
    assert "over the" not in decode_error("sw/v1/harbour-view/gate/cards", big)
    huge = b" " * (MAX_CARDS_PAYLOAD_BYTES + 1)
    assert "over the 8388608-byte limit" in decode_error("sw/v1/harbour-view/gate/cards", huge)


def test_payload_for_the_wrong_kind_is_rejected() -> None:
    _, payload = encode(Death(**ENVELOPE))
    message = decode_error(EVENT_TOPIC, payload)
    assert message.startswith("invalid event payload: ")
    assert "seq: Field required" in message
    assert "items: Field required" in message


def test_huge_integer_literal_is_a_wire_error() -> None:
    """json refuses ints over 4300 digits with a plain ValueError; decode must wrap it."""
    payload = b'{"v": 1, "boot": ' + b"9" * 5000 + b"}"
    assert len(payload) < MAX_PAYLOAD_BYTES
    assert decode_error(EVENT_TOPIC, payload).startswith("payload is not JSON: ")


def test_deeply_nested_json_is_a_wire_error() -> None:
    """Nesting well inside the size limit makes json raise RecursionError; decode must wrap it."""
    payload = b"[" * 100_000 + b"]" * 100_000
    assert len(payload) < MAX_PAYLOAD_BYTES
    with pytest.raises(WireError):
        decode(EVENT_TOPIC, payload)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([k for k in Kind if k not in (Kind.CMD, Kind.CARDS)]),
    payload=st.binary(max_size=2048),
)
def test_random_bytes_raise_only_wire_error(kind: Kind, payload: bytes) -> None:
    topic = str(Topic(SITE, NODE, kind))
    with contextlib.suppress(WireError):
        decode(topic, payload)


JSON_ISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["v", "site", "node", "stream", "seq", "items", "type", "ts", "x"]),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(list(Kind)), data=JSON_ISH)
def test_random_json_raises_only_wire_error(kind: Kind, data: object) -> None:
    topic = str(Topic(SITE, NODE, kind, "ping" if kind is Kind.CMD else None))
    with contextlib.suppress(WireError):
        decode(topic, json.dumps(data).encode())


# --------------------------------------------------------------------------------------------
# seq_ranges


@pytest.mark.parametrize(
    "seqs, ranges",
    [
        ([], []),
        ([5], [(5, 5)]),
        ([1, 2, 3], [(1, 3)]),
        ([1, 2, 3, 5, 6, 9], [(1, 3), (5, 6), (9, 9)]),
        ([9, 3, 1, 2, 6, 5], [(1, 3), (5, 6), (9, 9)]),
        ([4, 4, 4, 5, 5], [(4, 5)]),
        ([1, 3, 5], [(1, 1), (3, 3), (5, 5)]),
    ],
)
def test_seq_ranges(seqs: list[int], ranges: list[tuple[int, int]]) -> None:
    assert seq_ranges(seqs) == ranges


@given(st.lists(st.integers(min_value=1, max_value=500), max_size=200))
def test_seq_ranges_cover_exactly_the_input(seqs: list[int]) -> None:
    ranges = seq_ranges(seqs)
    covered = [n for low, high in ranges for n in range(low, high + 1)]
    assert covered == sorted(set(seqs))
    # Ranges are sorted, disjoint and not adjacent (adjacent ones would have been merged).
    for (_, high), (low, _) in itertools.pairwise(ranges):
        assert low > high + 1
    if ranges:
        Ack(**HEADER, stream=STREAM, ranges=ranges)  # an Ack accepts what seq_ranges produces
