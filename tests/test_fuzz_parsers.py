"""Property tests of every parser of outside input: whatever arrives, each fails only in its
documented way, and what it accepts is what was sent.

- the wire: `decode` raises only WireError, and valid messages round-trip through `encode`;
- card readers: decoders fed any bytes never raise, never invent a card from bytes that fail the
  checksum or parity, and find every good frame;
- Modbus: any register values decode (or raise the documented ValueError) for every data type,
  scale and bit, and encoding round-trips;
- the site file: any YAML, and mutated copies of the example, give a Site or a ConfigError whose
  problems each name a path, never another exception.
"""

from __future__ import annotations

import contextlib
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from drivers.modbus.codec import RegisterSpec, decode_registers, encode_registers
from drivers.readers import (
    CardRead,
    FrameError,
    LineDecoder,
    Pn532Decoder,
    Rdm6300Decoder,
    WiegandDecoder,
    encode_w26,
    encode_w34,
    line_reader,
    pn532,
    rdm6300,
    wiegand,
)
from sitewatch import wire
from sitewatch.configload import ConfigError, load_site
from tests.conftest import EXAMPLE_SITE

# Fixed and bounded: the same examples on every run, and the whole file in seconds.
settings.register_profile(
    "parsers",
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FUZZ = settings.get_profile("parsers")

# -- the wire --------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
millis = st.integers(0, wire.INT64_MAX)
values = st.one_of(
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.none(),
)
kinds = st.sampled_from([k.value for k in wire.Kind])
topics = st.one_of(
    st.builds(lambda s, n, k: f"sw/v1/{s}/{n}/{k}", names, names, kinds),
    st.builds(lambda s, n, c: f"sw/v1/{s}/{n}/cmd/{c}", names, names, names),
    st.text(max_size=80),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _message_like(topic: str) -> st.SearchStrategy[bytes]:
    """A JSON object with the header a topic expects, then fields of any shape: it gets past the
    cheap checks into model validation."""
    parts = topic.split("/")
    header: dict[str, Any] = {"v": 1}
    if len(parts) >= 4:
        header.update(site=parts[2], node=parts[3])
    if len(parts) == 6:
        header["name"] = parts[5]
    return st.dictionaries(st.text(max_size=12), json_values, max_size=6).map(
        lambda extra: json.dumps({**extra, **header}).encode()
    )


payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"[" * 100_000, b'{"v": 1' + b"9" * 5000 + b"}", b'{"v": true}', b"\xff"]),
)


@FUZZ
@given(topic=topics, payload=payloads)
def test_decode_raises_only_wire_errors(topic: str, payload: bytes) -> None:
    with contextlib.suppress(wire.WireError):
        wire.decode(topic, payload)


@FUZZ
@given(data=st.data(), topic=topics)
def test_decode_of_plausible_messages_raises_only_wire_errors(
    data: st.DataObject, topic: str
) -> None:
    payload = data.draw(_message_like(topic))
    with contextlib.suppress(wire.WireError):
        wire.decode(topic, payload)


points = st.builds(
    wire.PointValue,
    device=names,
    point=names,
    value=values,
    quality=st.sampled_from(wire.Quality),
    ts=millis,
)
taps = st.builds(
    wire.CardTap,
    reader=names,
    card=st.from_regex(r"[A-Za-z0-9:]{1,64}", fullmatch=True),
    format=st.text(min_size=1, max_size=16),
    ts=millis,
)
devices = st.builds(
    wire.DeviceStatus,
    device=names,
    online=st.booleans(),
    reason=st.none() | st.text(max_size=50),
    ts=millis,
)
header = {
    "site": names.filter(lambda s: s != "cloud"),
    "node": names,
    "stream": st.text(min_size=8, max_size=64),
    "seq": st.integers(1, wire.INT64_MAX),
    "boot": millis,
    "ts": millis,
}
messages = st.one_of(
    st.builds(
        wire.Event,
        items=st.lists(st.one_of(points, taps, devices), min_size=1, max_size=5),
        **header,
    ),
    st.builds(wire.Alarm, items=st.lists(points, min_size=1, max_size=5), **header),
    st.builds(wire.Telemetry, samples=st.lists(points, min_size=1, max_size=5), **header),
    st.builds(
        wire.Birth,
        software=st.text(max_size=64),
        config_hash=st.text(max_size=128),
        points=st.lists(points, max_size=3),
        **header,
    ),
    st.builds(
        wire.Ack,
        site=header["site"],
        node=names,
        stream=header["stream"],
        ranges=st.lists(st.tuples(header["seq"], header["seq"]), min_size=1, max_size=4),
        ts=st.none() | millis,
    ),
    st.builds(
        wire.Command,
        site=header["site"],
        node=names,
        name=names,
        args=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
        ts=millis,
    ),
)


@FUZZ
@given(message=messages)
def test_valid_messages_round_trip(message: wire.Message) -> None:
    topic, payload = wire.encode(message)
    assert wire.decode(topic, payload) == message


# -- card readers ----------------------------------------------------------------------------


def _feed_in_chunks(decoder: Any, data: bytes, cuts: list[int]) -> list[Any]:
    out: list[Any] = []
    last = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        out.extend(decoder.feed(data[last:cut]))
        last = cut
    if hasattr(decoder, "flush"):
        out.extend(decoder.flush())
    return out


chunk_cuts = st.lists(st.integers(0, 10_000), max_size=8)
noise = st.binary(max_size=300)


@FUZZ
@given(data=noise, cuts=chunk_cuts)
def test_line_reader_never_raises_and_reads_only_hex_uids(data: bytes, cuts: list[int]) -> None:
    for item in _feed_in_chunks(LineDecoder(), data, cuts):
        assert isinstance(item, CardRead | FrameError)
        if isinstance(item, CardRead):
            assert len(item.uid) in line_reader.UID_DIGITS
            int(item.uid, 16)


@FUZZ
@given(
    uid=st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    before=noise,
)
def test_line_reader_finds_a_good_line_after_any_noise(uid: bytes, before: bytes) -> None:
    decoder = LineDecoder()
    decoder.feed(before + b"\n")
    reads = [i for i in decoder.feed(line_reader.encode_line(uid)) if isinstance(i, CardRead)]
    assert [r.uid for r in reads] == [uid.hex().upper()]


@FUZZ
@given(data=noise, cuts=chunk_cuts)
def test_wiegand_never_raises_and_every_read_has_good_parity(data: bytes, cuts: list[int]) -> None:
    for item in _feed_in_chunks(WiegandDecoder(), data, cuts):
        assert isinstance(item, CardRead | FrameError)
        if isinstance(item, CardRead):
            bits = item.raw.decode("ascii")
            # It came from a well-formed line: re-encoding its fields gives the same bits.
            expected = (
                encode_w26(*map(int, item.uid.split(":")[1:]))
                if item.format == wiegand.FORMAT_26
                else encode_w34(int(item.uid.split(":")[1]))
            )
            assert bits == expected


@FUZZ
@given(
    bits=st.text(alphabet="01", min_size=26, max_size=26)
    | st.text(alphabet="01", min_size=34, max_size=34)
)
def test_wiegand_accepts_exactly_the_lines_with_good_parity(bits: str) -> None:
    result = wiegand.decode_bits(bits)
    data = bits[1:-1]
    good = (
        encode_w26(int(data[:8], 2), int(data[8:], 2))
        if len(bits) == 26
        else encode_w34(int(data, 2))
    ) == bits
    assert isinstance(result, CardRead) == good


@FUZZ
@given(data=noise, cuts=chunk_cuts)
def test_rdm6300_never_raises_and_every_read_has_a_good_checksum(
    data: bytes, cuts: list[int]
) -> None:
    for item in _feed_in_chunks(Rdm6300Decoder(), data, cuts):
        assert isinstance(item, CardRead | FrameError)
        if isinstance(item, CardRead):
            assert item.raw == rdm6300.encode_frame(bytes.fromhex(item.uid)) or (
                item.raw.upper() == rdm6300.encode_frame(bytes.fromhex(item.uid))
            )


@FUZZ
@given(card=st.binary(min_size=5, max_size=5), flip=st.integers(1, 12), bit=st.integers(0, 7))
def test_rdm6300_refuses_a_frame_with_one_bit_changed(card: bytes, flip: int, bit: int) -> None:
    frame = bytearray(rdm6300.encode_frame(card))
    frame[flip] ^= 1 << bit
    result = rdm6300.decode_frame(bytes(frame))
    # One changed bit either breaks the hex or the XOR checksum; upper/lower case of a hex letter
    # (bit 5 of a letter) is the same digit, so that one still reads as the same card.
    if isinstance(result, CardRead):
        assert result.uid == card.hex().upper()


@FUZZ
@given(card=st.binary(min_size=5, max_size=5), before=noise, cuts=chunk_cuts)
def test_rdm6300_finds_a_good_frame_after_any_noise(
    card: bytes, before: bytes, cuts: list[int]
) -> None:
    items = _feed_in_chunks(Rdm6300Decoder(), before + rdm6300.encode_frame(card), cuts)
    assert card.hex().upper() in [i.uid for i in items if isinstance(i, CardRead)]


@FUZZ
@given(data=st.binary(max_size=400), cuts=chunk_cuts)
def test_pn532_never_raises_and_every_frame_checks_out(data: bytes, cuts: list[int]) -> None:
    for item in _feed_in_chunks(Pn532Decoder(), data, cuts):
        assert isinstance(item, pn532.Frame | pn532.Ack | pn532.Nack | FrameError)
        if isinstance(item, pn532.Frame):
            # The frame was found in the input with good LCS, DCS and postamble.
            assert pn532.encode_frame(item.tfi, item.data)[2:] in b"\x00" + data


@FUZZ
@given(
    tfi=st.sampled_from([pn532.HOST_TO_PN532, pn532.PN532_TO_HOST]),
    body=st.binary(max_size=pn532.MAX_FRAME_LEN - 1),
    before=noise,
    cuts=chunk_cuts,
)
def test_pn532_finds_a_good_frame_after_any_noise(
    tfi: int, body: bytes, before: bytes, cuts: list[int]
) -> None:
    items = _feed_in_chunks(Pn532Decoder(), before + pn532.encode_frame(tfi, body), cuts)
    assert pn532.Frame(tfi, body) in items


@FUZZ
@given(data=st.binary(max_size=60))
def test_pn532_target_list_raises_only_frame_errors(data: bytes) -> None:
    try:
        uids = pn532.parse_in_list_passive_target(data)
    except FrameError:
        return
    assert all(len(uid) in (4, 7, 10) for uid in uids)


# -- Modbus ----------------------------------------------------------------------------------

dtypes = st.sampled_from(["bool", "int16", "uint16", "int32", "uint32", "float32"])
orders = st.sampled_from(["big", "little"])
scales = st.sampled_from([1.0, 0.1, 0.01, 10.0, -1.0]) | st.floats(-1e6, 1e6).filter(
    lambda f: f != 0
)
specs = st.builds(
    RegisterSpec,
    name=st.just("p"),
    table=st.sampled_from(["holding_register", "input_register"]),
    address=st.integers(0, 65535),
    dtype=dtypes,
    bit=st.none() | st.integers(0, 15),
    word_order=orders,
    byte_order=orders,
    scale=scales,
    offset=st.sampled_from([0.0, -40.0, 273.15]) | st.floats(-1e6, 1e6),
)


@FUZZ
@given(spec=specs, data=st.data())
def test_any_registers_decode_or_raise_value_error(spec: RegisterSpec, data: st.DataObject) -> None:
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=0, max_size=3))
    try:
        value = decode_registers(spec, words)
    except ValueError:
        # Only for the documented reasons: a wrong count, a float32 that is not a number, or a
        # bool over a whole register (it needs `bit`; the site file's checks refuse that spec).
        assert (
            len(words) != spec.width
            or spec.dtype == "float32"
            or (spec.dtype == "bool" and spec.bit is None)
        )
        return
    assert len(words) == spec.width
    assert isinstance(value, bool | int | float)
    if isinstance(value, float):
        assert math.isfinite(value)


unscaled_specs = st.builds(
    RegisterSpec,
    name=st.just("p"),
    table=st.just("holding_register"),
    address=st.integers(0, 65535),
    dtype=st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]),
    bit=st.none() | st.integers(0, 15),
    word_order=orders,
    byte_order=orders,
)


@FUZZ
@given(spec=unscaled_specs, data=st.data())
def test_registers_round_trip_through_encode(spec: RegisterSpec, data: st.DataObject) -> None:
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=spec.width, max_size=spec.width))
    try:
        value = decode_registers(spec, words)
    except ValueError:
        return  # a NaN or infinity in float32: refused, nothing to round-trip
    encoded = encode_registers(spec, value, current=words[0])
    if spec.bit is not None:
        assert bool((encoded[0] >> spec.bit) & 1) == value
    elif spec.dtype == "float32":
        assert decode_registers(spec, encoded) == value
        # Same float32 (only -0.0 and 0.0 differ in bits yet compare equal).
        assert struct.unpack(">f", struct.pack(">f", value)) == struct.unpack(
            ">f", struct.pack(">f", decode_registers(spec, encoded))
        )
    else:
        assert encoded == words


# -- the site file ---------------------------------------------------------------------------

EXAMPLE = yaml.safe_load(EXAMPLE_SITE.read_text(encoding="utf-8"))
yaml_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
yaml_docs = st.recursive(
    yaml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _paths(doc: Any, at: tuple = ()) -> list[tuple]:
    found = [at]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*at, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*at, index))
    return found


EXAMPLE_PATHS = _paths(EXAMPLE)


def _mutate(doc: Any, path: tuple, how: str, new: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced, deleted or given an unknown key."""
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "extra" and isinstance(parent[last], dict):
        parent[last]["surprise_key"] = new
    else:
        parent[last] = new
    return copy


def _load(tmp_path: Path, text: str) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(text, encoding="utf-8")
    (tmp_path / "devices").mkdir(exist_ok=True)
    for profile in (EXAMPLE_SITE.parent / "devices").glob("*.yaml"):
        target = tmp_path / "devices" / profile.name
        if not target.exists():
            target.write_bytes(profile.read_bytes())
    try:
        load_site(site_file)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            # Each problem names where (a key path) or, for the file as a whole, says why.
            assert problem.message
            assert problem.path or problem.line is None or problem.message


@settings(FUZZ, max_examples=100, suppress_health_check=list(HealthCheck))
@given(doc=yaml_docs)
def test_any_yaml_document_gives_a_site_or_config_error(tmp_path: Path, doc: Any) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings(FUZZ, max_examples=100, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(EXAMPLE_PATHS),
    how=st.sampled_from(["replace", "delete", "extra"]),
    new=yaml_docs,
)
def test_mutated_example_sites_give_a_site_or_problems_that_name_a_path(
    tmp_path: Path, path: tuple, how: str, new: Any
) -> None:
    assume(path or how == "replace")
    mutated = _mutate(EXAMPLE, path, how, new)
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(mutated, allow_unicode=True), encoding="utf-8")
    try:
        load_site(site_file)
    except ConfigError as exc:
        assert exc.problems
        if isinstance(mutated, dict) and path:
            # Inside a mapping document every problem points somewhere in the file.
            assert all(p.path or p.line for p in exc.problems), exc.problems


@settings(FUZZ, max_examples=100, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=200))
def test_any_text_gives_a_site_or_config_error(tmp_path: Path, text: str) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(text, encoding="utf-8")
    try:
        load_site(site_file)
    except ConfigError as exc:
        assert exc.problems


@pytest.mark.parametrize("text", ["!!python/object:os.system x", "a: &a [*a]", "- !!binary AAA"])
def test_unsafe_or_odd_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_site(site_file)
