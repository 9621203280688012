"""The MQTT wire contract between edge and cloud: topics, payload models, encode and decode.

This module is the only place that knows the shape of what crosses the broker; docs/wire.md
describes the same contract for people writing their own clients.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONTRACT_VERSION = 1
TOPIC_ROOT = "sw/v1"
CLOUD_STATE_TOPIC = f"{TOPIC_ROOT}/cloud/state"
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_ACK_RANGES = 10_000
# A card list is one retained snapshot of every card of a site: tens of thousands of cards.
MAX_CARDS = 50_000
MAX_CARDS_PAYLOAD_BYTES = 8 * 1024 * 1024

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WireError(ValueError):
    """A topic or payload that breaks the contract; the message names the problem."""


class Kind(StrEnum):
    BIRTH = "birth"
    DEATH = "death"
    EVENT = "event"
    ALARM = "alarm"
    TELEMETRY = "telemetry"
    ACK = "ack"
    CMD = "cmd"
    CARDS = "cards"


EDGE_KINDS = frozenset({Kind.BIRTH, Kind.DEATH, Kind.EVENT, Kind.ALARM, Kind.TELEMETRY})


def now_ms() -> int:
    return int(time.time() * 1000)


def _check_segment(what: str, value: str) -> None:
    if not _SEGMENT.fullmatch(value):
        raise WireError(
            f"{what} {value!r} is not a valid topic segment "
            "(1-64 characters: letters, digits, '_', '-', '.'; no '/', '+' or '#')"
        )


@dataclass(frozen=True)
class Topic:
    """`sw/v1/{site}/{node}/{kind}[/{command}]`, validated on construction."""

    site: str
    node: str
    kind: Kind
    command: str | None = None

    def __post_init__(self) -> None:
        _check_segment("site", self.site)
        _check_segment("node", self.node)
        if self.site == "cloud":
            raise WireError("site 'cloud' is reserved for the cloud's own state topic")
        if (self.kind is Kind.CMD) != (self.command is not None):
            raise WireError("a command topic needs a command name, and only a command topic")
        if self.command is not None:
            _check_segment("command", self.command)

    def __str__(self) -> str:
        base = f"{TOPIC_ROOT}/{self.site}/{self.node}/{self.kind.value}"
        return f"{base}/{self.command}" if self.command else base

    @classmethod
    def parse(cls, text: str) -> Topic:
        parts = text.split("/")
        if len(parts) not in (5, 6) or "/".join(parts[:2]) != TOPIC_ROOT:
            raise WireError(
                f"topic {text!r} is not a Sitewatch topic: expected {TOPIC_ROOT}/{{site}}/{{node}}/{{kind}}"
            )
        _, _, site, node, kind, *rest = parts
        try:
            parsed_kind = Kind(kind)
        except ValueError:
            known = ", ".join(k.value for k in Kind)
            raise WireError(f"topic {text!r} has unknown kind {kind!r} (known: {known})") from None
        return cls(site, node, parsed_kind, rest[0] if rest else None)

    @staticmethod
    def filter(site: str = "+", node: str = "+", kind: Kind | str = "+") -> str:
        """A subscription filter; '+' is the MQTT single-level wildcard."""
        kind_text = kind.value if isinstance(kind, Kind) else kind
        return f"{TOPIC_ROOT}/{site}/{node}/{kind_text}"

    @staticmethod
    def commands_filter(site: str, node: str) -> str:
        """Every command addressed to one node."""
        return f"{TOPIC_ROOT}/{site}/{node}/{Kind.CMD.value}/+"


Value = bool | int | float | str | None


class Quality(StrEnum):
    GOOD = "good"
    BAD = "bad"


class _Strict(BaseModel):
    # NaN and infinities are not readings: refused, so they can never clear a limit alarm.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
# Every integer fits a signed 64-bit column; a larger one is refused here, not by the database.
INT64_MAX = 2**63 - 1
Seq = Annotated[int, Field(ge=1, le=INT64_MAX)]
Millis = Annotated[int, Field(ge=0, le=INT64_MAX)]
Boot = Annotated[int, Field(ge=0, le=INT64_MAX)]


class PointValue(_Strict):
    """The value of one point of one device, as read at `ts` (UTC ms)."""

    type: Literal["point"] = "point"
    device: Name
    point: Name
    value: Value
    quality: Quality = Quality.GOOD
    ts: Millis


class DeviceStatus(_Strict):
    """A field device went online or offline (distinct from the node's own link)."""

    type: Literal["device"] = "device"
    device: Name
    online: bool
    reason: str | None = Field(default=None, max_length=500)
    ts: Millis


class CardTap(_Strict):
    """A card read at a reader: a guard's badge at a checkpoint, or a car's card at a gate lane."""

    type: Literal["tap"] = "tap"
    reader: Name
    card: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:]+$")
    format: str = Field(min_length=1, max_length=16)
    ts: Millis


class Heartbeat(_Strict):
    """The edge agent is alive; carries its clock offset to the cloud and its outbox state."""

    type: Literal["heartbeat"] = "heartbeat"
    ts: Millis
    clock_offset_ms: Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)] | None = Field(
        default=None, description="cloud clock minus edge clock, from the last ack; None if unknown"
    )
    outbox: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="per message kind: unsent and handed_over counts"
    )
    disk_over_budget: bool = Field(
        default=False,
        description="the outbox holds only events and alarms and still exceeds its budget",
    )
    cards_version: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = Field(
        default=None, description="a gate node: the card list version it decides from"
    )


CardId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:]+$")]


class CardType(StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"
    TEMPORARY = "temporary"  # contractor and renovation passes (出入证), with a validity window
    VISITOR = "visitor"
    EMERGENCY = "emergency"  # police, fire, ambulance, official: always pass, always logged


class CardStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOST = "lost"
    EXPIRED = "expired"


class GateReason(StrEnum):
    """Why a gate let a car through, or did not."""

    VALID = "valid"
    EMERGENCY = "emergency"
    OVERRIDE = "override"  # an operator opened the barrier from the console
    REGISTERED = "registered"  # a stranger vehicle, registered by the booth and let through
    UNKNOWN = "unknown"
    LOST = "lost"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    OUTSIDE_VALIDITY = "outside_validity"
    NO_PERMISSION = "no_permission"  # a known card, not for this lane
    ANTI_PASSBACK = "anti_passback"


class GatePass(_Strict):
    """A gate lane's decision on a card read (or an operator's opening), made at the edge."""

    type: Literal["gate"] = "gate"
    lane: Name
    direction: Literal["in", "out"]
    reader: Name | None = None
    card: CardId | None = None
    card_type: CardType | None = None
    allowed: bool
    reason: GateReason
    violation: bool = Field(default=False, description="anti-passback broken but let through")
    list_version: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = None
    decide_ms: float | None = Field(default=None, ge=0, le=3_600_000, description="read → relay")
    relay_confirmed: bool | None = Field(default=None, description="relay read back as commanded")
    by: str | None = Field(default=None, max_length=120)
    note: str | None = Field(default=None, max_length=500)
    ts: Millis


class CardListLoaded(_Strict):
    """A gate node now decides from card list `version` (persisted before this is sent)."""

    type: Literal["cards"] = "cards"
    version: Annotated[int, Field(ge=1, le=INT64_MAX)]
    count: Annotated[int, Field(ge=0, le=1_000_000)]
    ts: Millis


EventItem = Annotated[
    PointValue | DeviceStatus | CardTap | Heartbeat | GatePass | CardListLoaded,
    Field(discriminator="type"),
]


class Message(_Strict):
    """Common header of every payload."""

    KIND: ClassVar[Kind]
    v: Literal[1] = CONTRACT_VERSION
    site: Name
    node: Name

    @property
    def topic(self) -> Topic:
        return Topic(self.site, self.node, self.KIND)


class Envelope(Message):
    """Header of every edge→cloud payload that comes out of the outbox."""

    stream: Annotated[str, Field(min_length=8, max_length=64)]
    seq: Seq
    boot: Boot
    ts: Millis


class Birth(Envelope):
    KIND: ClassVar[Kind] = Kind.BIRTH
    software: str = Field(max_length=64)
    config_hash: str = Field(max_length=128)
    points: list[PointValue] = Field(max_length=10_000)
    devices: list[DeviceStatus] = Field(default_factory=list, max_length=1_000)


class Death(Message):
    """The MQTT will: published by the broker when the node's connection dies.

    It is fixed at connect time, so it has no `seq` and is not confirmed.
    """

    KIND: ClassVar[Kind] = Kind.DEATH
    stream: Annotated[str, Field(min_length=8, max_length=64)]
    boot: Boot
    ts: Millis


class Event(Envelope):
    KIND: ClassVar[Kind] = Kind.EVENT
    items: list[EventItem] = Field(min_length=1, max_length=1_000)


class Alarm(Envelope):
    """Fast lane: changes of fire-category points, published ahead of any backlog."""

    KIND: ClassVar[Kind] = Kind.ALARM
    items: list[PointValue] = Field(min_length=1, max_length=1_000)


class Telemetry(Envelope):
    KIND: ClassVar[Kind] = Kind.TELEMETRY
    samples: list[PointValue] = Field(min_length=1, max_length=10_000)


class Ack(Message):
    """Cloud→edge: the `seq` ranges (inclusive) of `stream` that the cloud has stored."""

    KIND: ClassVar[Kind] = Kind.ACK
    stream: Annotated[str, Field(min_length=8, max_length=64)]
    ranges: list[tuple[Seq, Seq]] = Field(min_length=1, max_length=MAX_ACK_RANGES)
    ts: Millis | None = Field(default=None, description="the cloud's clock when it sent the ack")


class Command(Message):
    """Cloud→edge command; the topic carries its name (`cmd/{name}`)."""

    KIND: ClassVar[Kind] = Kind.CMD
    name: Name
    args: dict[str, Any] = Field(default_factory=dict)
    ts: Millis

    @property
    def topic(self) -> Topic:
        return Topic(self.site, self.node, Kind.CMD, self.name)


class CardEntry(_Strict):
    """One card as a gate needs it: no holder, no plates (the gate decides on the card alone)."""

    card: CardId
    type: CardType
    status: CardStatus
    valid_from: Millis | None = None
    valid_until: Millis | None = None
    lanes: list[Name] | None = Field(default=None, description="None: every lane")


class CardList(Message):
    """Cloud→gate node, retained: the whole card list at `version` (a higher one replaces it)."""

    KIND: ClassVar[Kind] = Kind.CARDS
    version: Annotated[int, Field(ge=1, le=INT64_MAX)]
    cards: list[CardEntry] = Field(max_length=MAX_CARDS)
    ts: Millis


AnyMessage = Birth | Death | Event | Alarm | Telemetry | Ack | Command | CardList

_MODELS: dict[Kind, type[Message]] = {
    Kind.BIRTH: Birth,
    Kind.DEATH: Death,
    Kind.EVENT: Event,
    Kind.ALARM: Alarm,
    Kind.TELEMETRY: Telemetry,
    Kind.ACK: Ack,
    Kind.CMD: Command,
    Kind.CARDS: CardList,
}


def cloud_state(online: bool) -> bytes:
    """The retained payload of `sw/v1/cloud/state`: whether the cloud (primary host) is up."""
    return json.dumps({"v": CONTRACT_VERSION, "online": online, "ts": now_ms()}).encode()


class CloudState(_Strict):
    """A `sw/v1/cloud/state` payload read back: `ts` tells one cloud session from the next."""

    v: Literal[1] = CONTRACT_VERSION
    online: bool
    ts: Millis


def read_cloud_state(payload: bytes) -> CloudState | None:
    """The cloud state a payload says, or None if it is not one (it is ignored, not an error)."""
    try:
        return CloudState.model_validate_json(payload)
    except ValidationError:
        return None


def encode(message: Message) -> tuple[str, bytes]:
    """The topic and the JSON bytes to publish for `message`."""
    payload = message.model_dump_json().encode()
    return str(message.topic), payload


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming its field path."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(payload)"
        lines.append(f"{path}: {problem['msg']}")
    return "; ".join(lines)


_TOPICS: dict[str, Topic] = {}  # topics parsed before: a node publishes on a handful
_TOPIC_CACHE_LIMIT = 100_000
# What `encode` writes first. Only a payload that starts so, and names "v" nowhere else (a
# repeated key would override it), may skip the checks below: pydantic's Literal[1] would also
# take 1.0 or true, which this contract refuses.
_ENCODED_START = b'{"v":%d,' % CONTRACT_VERSION


def _topic(topic: str) -> Topic:
    parsed = _TOPICS.get(topic)
    if parsed is None:
        parsed = Topic.parse(topic)
        if len(_TOPICS) < _TOPIC_CACHE_LIMIT:
            _TOPICS[topic] = parsed
    return parsed


def _decode_fast(parsed_topic: Topic, payload: bytes) -> AnyMessage | None:
    """The common case, parsed and validated by pydantic in one step; None if it is not that
    case or anything is wrong, and `decode` then takes the long way that names the problem."""
    if parsed_topic.kind not in EDGE_KINDS or len(payload) > MAX_PAYLOAD_BYTES:
        return None
    if not payload.startswith(_ENCODED_START) or payload.count(b'"v"') != 1:
        return None
    try:
        message = _MODELS[parsed_topic.kind].model_validate_json(payload)
    except ValidationError:
        return None
    if message.site != parsed_topic.site or message.node != parsed_topic.node:
        return None
    return message  # type: ignore[return-value]


def decode(topic: str, payload: bytes) -> AnyMessage:
    """Parse and validate one MQTT message; raises WireError naming what is wrong."""
    parsed_topic = _topic(topic)
    fast = _decode_fast(parsed_topic, payload)
    if fast is not None:
        return fast
    limit = MAX_CARDS_PAYLOAD_BYTES if parsed_topic.kind is Kind.CARDS else MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        raise WireError(f"payload is {len(payload)} bytes, over the {limit}-byte limit")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad JSON, bad UTF-8 and over-long integers; RecursionError deep nesting.
        raise WireError(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError(f"payload must be a JSON object, got {type(data).__name__}")
    if "v" not in data:
        raise WireError("payload has no contract version 'v'")
    if type(data["v"]) is not int or data["v"] != CONTRACT_VERSION:
        raise WireError(
            f"unknown contract version {data['v']!r} (this build speaks {CONTRACT_VERSION})"
        )
    for field in ("site", "node"):
        expected = getattr(parsed_topic, field)
        if field in data and data[field] != expected:
            raise WireError(
                f"payload {field} {data[field]!r} does not match topic {field} {expected!r}"
            )
    if parsed_topic.kind is Kind.CMD and data.get("name") != parsed_topic.command:
        raise WireError(
            f"command name {data.get('name')!r} does not match topic command "
            f"{parsed_topic.command!r}"
        )
    model = _MODELS[parsed_topic.kind]
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise WireError(
            f"invalid {parsed_topic.kind.value} payload: {describe_validation_error(exc)}"
        ) from None


def position_hint(topic: str, payload: bytes) -> tuple[str, str, str, int] | None:
    """Best-effort `(site, node, stream, seq)` of a payload that failed validation.

    The cloud confirms even a rejected message when it can tell its position, so the edge
    stops re-sending something that will never be accepted.
    """
    try:
        parsed = Topic.parse(topic)
        data = json.loads(payload)
    except (WireError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or parsed.kind not in EDGE_KINDS:
        return None
    stream, seq = data.get("stream"), data.get("seq")
    if not isinstance(stream, str) or not 8 <= len(stream) <= 64:
        return None
    if type(seq) is not int or seq < 1:
        return None
    return parsed.site, parsed.node, stream, seq


def seq_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges, as carried by an Ack."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges
