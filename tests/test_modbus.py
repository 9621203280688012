"""Tests for the Modbus driver: decoding, read planning, the simulator's encoder, change
detection in the poller, and a real Modbus TCP round trip through `ModbusBus`.

Expected register words are written out by hand (big-endian hex of the value, then words and/or
bytes swapped), so a test never trusts one half of the codec to check the other.
"""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import drivers.modbus.bus as bus_module
from drivers.modbus import (
    BusSettings,
    DeviceError,
    ModbusBus,
    ReadBlock,
    RegisterSpec,
    decode_registers,
    plan_reads,
)
from drivers.modbus.bus import BACKOFF_CAP_S, BACKOFF_START_S
from drivers.modbus.plan import MAX_BITS, MAX_REGISTERS
from edge.poller import PointState, engineering_value, is_significant, register_spec
from simulators.modbus_server import ModbusSimulator, encode_point
from sitewatch.configload import load_site
from sitewatch.siteconfig import Device, PointSpec, Site
from sitewatch.wire import Quality

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "config" / "site.example.yaml"
NODE = "pumproom"
GATEWAY = "pumproom-gw"

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]
ORDER_IDS = ["ABCD", "CDAB", "BADC", "DCBA"]


def reg(
    dtype: str = "uint16",
    address: int = 0,
    table: str = "holding_register",
    name: str | None = None,
    **kw: object,
) -> RegisterSpec:
    return RegisterSpec(
        name=name or f"{table}@{address}", table=table, address=address, dtype=dtype, **kw
    )


# --------------------------------------------------------------------------------------------
# 1. decode_registers
# --------------------------------------------------------------------------------------------

# (dtype, value, {(word_order, byte_order): words}); every value has four distinct bytes (or two
# for 16-bit types) so a swap of words or bytes cannot go unnoticed.
DECODE_CASES = [
    # -12345 = 0xCFC7
    ("int16", -12345, {"big": [0xCFC7], "little": [0xC7CF]}),
    # 4660 = 0x1234
    ("uint16", 0x1234, {"big": [0x1234], "little": [0x3412]}),
    # -123456789 = 0xF8A432EB (two's complement)
    (
        "int32",
        -123456789,
        {
            ("big", "big"): [0xF8A4, 0x32EB],
            ("little", "big"): [0x32EB, 0xF8A4],
            ("big", "little"): [0xA4F8, 0xEB32],
            ("little", "little"): [0xEB32, 0xA4F8],
        },
    ),
    # 305419896 = 0x12345678
    (
        "uint32",
        0x12345678,
        {
            ("big", "big"): [0x1234, 0x5678],
            ("little", "big"): [0x5678, 0x1234],
            ("big", "little"): [0x3412, 0x7856],
            ("little", "little"): [0x7856, 0x3412],
        },
    ),
    # 1.5 = 0x3FC00000
    (
        "float32",
        1.5,
        {
            ("big", "big"): [0x3FC0, 0x0000],
            ("little", "big"): [0x0000, 0x3FC0],
            ("big", "little"): [0xC03F, 0x0000],
            ("little", "little"): [0x0000, 0xC03F],
        },
    ),
    # float32(-123.456) = 0xC2F6E979 (= -123.45600128173828, which reads as -123.456)
    (
        "float32",
        -123.456,
        {
            ("big", "big"): [0xC2F6, 0xE979],
            ("little", "big"): [0xE979, 0xC2F6],
            ("big", "little"): [0xF6C2, 0x79E9],
            ("little", "little"): [0x79E9, 0xF6C2],
        },
    ),
    # uint32 above 2**31 must not come out negative: 0x80000001 = 2147483649
    (
        "uint32",
        2147483649,
        {
            ("big", "big"): [0x8000, 0x0001],
            ("little", "big"): [0x0001, 0x8000],
            ("big", "little"): [0x0080, 0x0100],
            ("little", "little"): [0x0100, 0x0080],
        },
    ),
    # uint16 above 2**15 must not come out negative: 0xFFFE = 65534
    ("uint16", 65534, {"big": [0xFFFE], "little": [0xFEFF]}),
]


def _decode_params() -> list:
    params = []
    for dtype, value, words_by_order in DECODE_CASES:
        for (word_order, byte_order), order_id in zip(ORDERS, ORDER_IDS, strict=True):
            key = (word_order, byte_order) if (word_order, byte_order) in words_by_order else None
            # 16-bit types: word order cannot matter, only byte order does.
            words = words_by_order[key] if key else words_by_order[byte_order]
            params.append(
                pytest.param(
                    dtype, word_order, byte_order, words, value, id=f"{dtype}-{value}-{order_id}"
                )
            )
    return params


@pytest.mark.parametrize(
    ("dtype", "word_order", "byte_order", "words", "expected"), _decode_params()
)
def test_decode_every_dtype_in_every_order(
    dtype: str, word_order: str, byte_order: str, words: list[int], expected: int | float
) -> None:
    spec = reg(dtype, word_order=word_order, byte_order=byte_order)
    value = decode_registers(spec, words)
    assert value == expected
    # Unscaled integers stay integers; floats stay floats.
    assert type(value) is type(expected)


def _float32_bits(value: float) -> str:
    return struct.pack(">f", value).hex()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param([0x3E4C, 0xCCCD], 0.2, id="0.2"),
        pytest.param([0x3F8C, 0xCCCD], 1.1, id="1.1"),
        pytest.param([0x3EAE, 0x147B], 0.34, id="0.34"),
    ],
)
def test_decode_float32_without_display_noise(words: list[int], expected: float) -> None:
    # float32(0.2) is 0.20000000298023224; the value a device meant is 0.2.
    assert decode_registers(reg("float32"), words) == expected


@pytest.mark.parametrize(
    "words",
    [
        pytest.param([0x4049, 0x0FDB], id="pi-3.1415927"),
        pytest.param([0x4B3C, 0x614E], id="12345678.0"),
        pytest.param([0x4B7F, 0xFFFF], id="16777215.0"),
        pytest.param([0x3F80, 0x0001], id="1.0000001"),
        pytest.param([0x7F7F, 0xFFFF], id="float32-max"),
    ],
)
def test_decode_float32_keeps_every_bit_the_device_sent(words: list[int]) -> None:
    """Trimming display noise must not change the number: the decoded value must be the same
    float32 the device sent (a float32 needs up to 9 significant digits to round-trip).

    16777215.0 is exact in a float32; reading it as 16777220.0 invents a different value.
    """
    value = decode_registers(reg("float32"), words)
    assert _float32_bits(value) == f"{words[0]:04x}{words[1]:04x}"


@pytest.mark.parametrize(
    ("bit", "expected"),
    [(0, True), (1, False), (2, True), (3, False), (7, True), (8, False), (14, False), (15, True)],
)
def test_decode_bit_in_register(bit: int, expected: bool) -> None:
    # 0x8085 = bits 15, 7, 2 and 0 set.
    spec = reg("bool", table="input_register", bit=bit)
    value = decode_registers(spec, [0x8085])
    assert value is expected


def test_bit_in_register_ignores_byte_and_word_order_and_scale() -> None:
    spec = reg("bool", bit=8, word_order="little", byte_order="little", scale=10.0, offset=3.0)
    assert decode_registers(spec, [0x0100]) is True
    assert decode_registers(spec, [0x0001]) is False


@pytest.mark.parametrize(
    ("dtype", "words", "scale", "offset", "expected"),
    [
        pytest.param("uint16", [650], 0.1, -40.0, 25.0, id="uint16-scale-and-offset"),
        pytest.param("int16", [0xCFC7], 0.1, 0.0, -1234.5, id="int16-negative-scaled"),
        pytest.param("uint16", [250], 1.0, 273.15, 523.15, id="offset-only"),
        pytest.param("uint32", [0x0001, 0xE240], 0.1, 0.0, 12345.6, id="uint32-run-hours"),
        pytest.param("int32", [0xFFFF, 0xFFF6], 0.5, 100.0, 95.0, id="int32-negative"),
        pytest.param("float32", [0x3FC0, 0x0000], 2.0, 1.0, 4.0, id="float32-scaled"),
        pytest.param("uint16", [3], 0.1, 0.0, 0.3, id="no-float-noise"),
    ],
)
def test_decode_scale_and_offset(
    dtype: str, words: list[int], scale: float, offset: float, expected: float
) -> None:
    value = decode_registers(reg(dtype, scale=scale, offset=offset), words)
    # Scaled values are rounded to 6 decimals, so 3 * 0.1 reads 0.3, not 0.30000000000000004.
    assert value == expected


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        pytest.param(reg("uint32"), [0x1234], id="uint32-one-word"),
        pytest.param(reg("int32"), [], id="int32-no-words"),
        pytest.param(reg("float32"), [0x3FC0, 0, 0], id="float32-three-words"),
        pytest.param(reg("uint16"), [1, 2], id="uint16-two-words"),
        pytest.param(reg("int16"), [], id="int16-no-words"),
        pytest.param(reg("bool", bit=3), [1, 2], id="bit-two-words"),
        pytest.param(reg("bool", bit=3), [], id="bit-no-words"),
    ],
)
def test_decode_wrong_word_count_raises(spec: RegisterSpec, words: list[int]) -> None:
    with pytest.raises(ValueError, match=rf"expected {spec.width} register\(s\), got {len(words)}"):
        decode_registers(spec, words)


@pytest.mark.parametrize(
    ("word_order", "byte_order", "words"),
    [
        pytest.param("big", "big", [0x7FC0, 0x0000], id="nan"),
        pytest.param("big", "big", [0x7F80, 0x0000], id="+inf"),
        pytest.param("big", "big", [0xFF80, 0x0000], id="-inf"),
        pytest.param("big", "big", [0xFFFF, 0xFFFF], id="nan-all-ones"),
        pytest.param("little", "big", [0x0000, 0x7FC0], id="nan-CDAB"),
        pytest.param("big", "little", [0x807F, 0x0000], id="+inf-BADC"),
        pytest.param("little", "little", [0x0000, 0x80FF], id="-inf-DCBA"),
    ],
)
@pytest.mark.parametrize(("scale", "offset"), [(1.0, 0.0), (0.1, 5.0)], ids=["raw", "scaled"])
def test_decode_non_finite_float_raises(
    word_order: str, byte_order: str, words: list[int], scale: float, offset: float
) -> None:
    spec = reg("float32", word_order=word_order, byte_order=byte_order, scale=scale, offset=offset)
    with pytest.raises(ValueError, match="not a finite number"):
        decode_registers(spec, words)


def test_register_spec_translates_profile_points() -> None:
    analog = PointSpec(
        label="a",
        table="input_register",
        address=7,
        type="float32",
        word_order="little",
        byte_order="little",
        scale=0.5,
        offset=-1.0,
    )
    spec = register_spec("a", analog)
    assert spec == RegisterSpec(
        "a", "input_register", 7, "float32", None, "little", "little", 0.5, -1.0
    )
    assert spec.width == 2

    untyped = register_spec("u", PointSpec(label="u", table="holding_register", address=3))
    assert (untyped.dtype, untyped.width) == ("uint16", 1)

    bit = register_spec("b", PointSpec(label="b", table="input_register", address=0, bit=15))
    assert (bit.dtype, bit.bit, bit.width) == ("bool", 15, 1)

    coil = register_spec("c", PointSpec(label="c", table="coil", address=9))
    assert (coil.table, coil.dtype, coil.width, coil.is_bit_table) == ("coil", "bool", 1, True)


# --------------------------------------------------------------------------------------------
# 2. plan_reads
# --------------------------------------------------------------------------------------------


def _layout(blocks: list[ReadBlock]) -> list[tuple[str, int, int, list[str]]]:
    return [(b.table, b.address, b.count, [s.name for s in b.specs]) for b in blocks]


def test_plan_empty() -> None:
    assert plan_reads([]) == []


def test_plan_merges_adjacent_registers_in_address_order() -> None:
    specs = [
        reg("uint16", 4, name="d"),
        reg("uint16", 0, name="a"),
        reg("uint32", 2, name="c"),  # registers 2-3
        reg("int16", 1, name="b"),
    ]
    assert _layout(plan_reads(specs)) == [("holding_register", 0, 5, ["a", "b", "c", "d"])]


def test_plan_does_not_bridge_gaps() -> None:
    specs = [reg("uint16", 0, name="a"), reg("uint16", 2, name="b")]
    assert _layout(plan_reads(specs)) == [
        ("holding_register", 0, 1, ["a"]),
        ("holding_register", 2, 1, ["b"]),
    ]
    # A 32-bit value ends at 0+2; a register at 3 leaves 2 unread, so it is a separate read.
    specs = [reg("uint32", 0, name="a"), reg("uint16", 3, name="b")]
    assert _layout(plan_reads(specs)) == [
        ("holding_register", 0, 2, ["a"]),
        ("holding_register", 3, 1, ["b"]),
    ]
    # Bit tables likewise.
    specs = [reg("bool", 0, "coil", name="a"), reg("bool", 5, "coil", name="b")]
    assert [(b.address, b.count) for b in plan_reads(specs)] == [(0, 1), (5, 1)]


def test_plan_overlapping_bit_points_share_one_register() -> None:
    specs = [
        reg("bool", 0, "input_register", name=f"zone{bit}", bit=bit) for bit in (15, 0, 3, 1, 2)
    ]
    specs.append(reg("uint16", 0, "input_register", name="status_word"))
    blocks = plan_reads(specs)
    assert len(blocks) == 1
    assert (blocks[0].table, blocks[0].address, blocks[0].count) == ("input_register", 0, 1)
    assert {s.name for s in blocks[0].specs} == {s.name for s in specs}


def test_plan_overlap_inside_a_32_bit_value() -> None:
    # A uint32 at 0 covers registers 0-1; a uint16 view of register 1 overlaps it.
    specs = [reg("uint16", 1, name="low"), reg("uint32", 0, name="both")]
    assert _layout(plan_reads(specs)) == [("holding_register", 0, 2, ["both", "low"])]


@pytest.mark.parametrize("dtype", ["int32", "uint32", "float32"])
def test_plan_32_bit_values_count_two_registers(dtype: str) -> None:
    assert _layout(plan_reads([reg(dtype, 10, name="v")])) == [("holding_register", 10, 2, ["v"])]
    # ... and touch the register right after them.
    specs = [reg(dtype, 10, name="v"), reg("uint16", 12, name="next")]
    assert _layout(plan_reads(specs)) == [("holding_register", 10, 3, ["v", "next"])]


def _assert_plan_is_sound(specs: list[RegisterSpec], blocks: list[ReadBlock]) -> None:
    """Every spec is read exactly once, whole, within protocol limits; no address is invented."""
    seen = [s for b in blocks for s in b.specs]
    assert sorted(seen, key=repr) == sorted(specs, key=repr)
    for block in blocks:
        limit = MAX_BITS if block.table in ("coil", "discrete_input") else MAX_REGISTERS
        assert 1 <= block.count <= limit
        covered: set[int] = set()
        for spec in block.specs:
            assert spec.table == block.table
            assert block.address <= spec.address
            assert spec.address + spec.width <= block.address + block.count
            covered.update(range(spec.address, spec.address + spec.width))
        # No gap inside a block: every address read belongs to some spec.
        assert covered == set(range(block.address, block.address + block.count))


def test_plan_splits_at_125_registers() -> None:
    exactly = [reg("uint16", a, name=f"r{a}") for a in range(MAX_REGISTERS)]
    assert [(b.address, b.count) for b in plan_reads(exactly)] == [(0, 125)]

    one_more = [reg("uint16", a, name=f"r{a}") for a in range(MAX_REGISTERS + 1)]
    blocks = plan_reads(one_more)
    assert [(b.address, b.count) for b in blocks] == [(0, 125), (125, 1)]
    _assert_plan_is_sound(one_more, blocks)


@pytest.mark.parametrize("table", ["holding_register", "input_register"])
def test_plan_limit_never_splits_a_32_bit_value(table: str) -> None:
    # 63 uint32s occupy registers 0-125 (126 registers): the last one cannot fit in the first
    # request, and must move whole to the next one rather than being cut in half.
    specs = [reg("uint32", 2 * i, table, name=f"v{i}") for i in range(63)]
    blocks = plan_reads(specs)
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 2)]
    assert [s.name for s in blocks[1].specs] == ["v62"]
    _assert_plan_is_sound(specs, blocks)


@pytest.mark.parametrize("table", ["coil", "discrete_input"])
def test_plan_splits_at_2000_bits(table: str) -> None:
    exactly = [reg("bool", a, table, name=f"b{a}") for a in range(MAX_BITS)]
    assert [(b.address, b.count) for b in plan_reads(exactly)] == [(0, 2000)]

    more = [reg("bool", a, table, name=f"b{a}") for a in range(MAX_BITS + 1)]
    blocks = plan_reads(more)
    assert [(b.address, b.count) for b in blocks] == [(0, 2000), (2000, 1)]
    _assert_plan_is_sound(more, blocks)


def test_plan_bit_limit_is_not_the_register_limit() -> None:
    # 200 coils fit one request (limit 2000); 200 registers do not (limit 125).
    coils = [reg("bool", a, "coil", name=f"c{a}") for a in range(200)]
    assert [(b.address, b.count) for b in plan_reads(coils)] == [(0, 200)]
    registers = [reg("uint16", a, "input_register", name=f"r{a}") for a in range(200)]
    assert [(b.address, b.count) for b in plan_reads(registers)] == [(0, 125), (125, 75)]


def test_plan_never_merges_different_tables() -> None:
    specs = [
        reg("bool", 0, "coil", name="coil0"),
        reg("bool", 1, "discrete_input", name="di1"),
        reg("uint16", 0, "holding_register", name="hr0"),
        reg("uint16", 1, "input_register", name="ir1"),
        reg("bool", 0, "discrete_input", name="di0"),
        reg("uint16", 1, "holding_register", name="hr1"),
    ]
    layout = sorted(_layout(plan_reads(specs)))
    assert layout == [
        ("coil", 0, 1, ["coil0"]),
        ("discrete_input", 0, 2, ["di0", "di1"]),
        ("holding_register", 0, 2, ["hr0", "hr1"]),
        ("input_register", 1, 1, ["ir1"]),
    ]


_TABLES = ["coil", "discrete_input", "holding_register", "input_register"]


@st.composite
def _random_spec(draw: st.DrawFn, index: int) -> RegisterSpec:
    table = draw(st.sampled_from(_TABLES))
    address = draw(st.integers(0, 300))
    if table in ("coil", "discrete_input"):
        return reg("bool", address, table, name=f"s{index}")
    if draw(st.booleans()):
        return reg("bool", address, table, name=f"s{index}", bit=draw(st.integers(0, 15)))
    dtype = draw(st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]))
    return reg(dtype, address, table, name=f"s{index}")


@st.composite
def _random_specs(draw: st.DrawFn) -> list[RegisterSpec]:
    n = draw(st.integers(0, 60))
    return [draw(_random_spec(i)) for i in range(n)]


@given(_random_specs())
def test_plan_is_sound_for_any_specs(specs: list[RegisterSpec]) -> None:
    blocks = plan_reads(specs)
    _assert_plan_is_sound(specs, blocks)
    # Maximal merging: within a table, two consecutive blocks that touch or overlap could only
    # have been kept apart by the protocol limit.
    for table in _TABLES:
        mine = sorted((b for b in blocks if b.table == table), key=lambda b: b.address)
        limit = MAX_BITS if table in ("coil", "discrete_input") else MAX_REGISTERS
        for first, second in itertools.pairwise(mine):
            if second.address <= first.address + first.count:
                merged_end = max(
                    first.address + first.count, second.specs[0].address + second.specs[0].width
                )
                assert merged_end - first.address > limit


# --------------------------------------------------------------------------------------------
# 3. The simulator's encoder and the driver's decoder agree
# --------------------------------------------------------------------------------------------

_INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
_orders = st.sampled_from(["big", "little"])
_scales = st.one_of(
    st.sampled_from([1.0, 0.1, 0.01, 0.5, 10.0, 100.0]),
    st.floats(min_value=0.001, max_value=1000.0),
)
_offsets = st.one_of(st.sampled_from([0.0, -40.0, 273.15]), st.floats(-1000.0, 1000.0))


@st.composite
def _point_and_value(draw: st.DrawFn) -> tuple[PointSpec, float]:
    dtype = draw(st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]))
    table = draw(st.sampled_from(["holding_register", "input_register"]))
    scale = draw(_scales)
    offset = draw(_offsets) if draw(st.booleans()) else 0.0
    point = PointSpec(
        label="p",
        table=table,
        address=draw(st.integers(0, 65534)),
        type=dtype,
        word_order=draw(_orders),
        byte_order=draw(_orders),
        scale=scale,
        offset=offset,
    )
    if dtype == "float32":
        if scale == 1.0 and offset == 0.0:
            value = draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
        else:
            value = draw(st.floats(-1e6, 1e6, width=32))
    else:
        # An engineering value the device can actually represent: raw * scale + offset.
        raw = draw(st.integers(*_INT_RANGES[dtype]))
        value = raw if scale == 1.0 and offset == 0.0 else raw * scale + offset
    return point, value


@given(_point_and_value())
def test_encode_then_decode_round_trips(case: tuple[PointSpec, float]) -> None:
    point, value = case
    words = encode_point(point, value)
    spec = register_spec("p", point)
    assert len(words) == spec.width
    assert all(0 <= w <= 0xFFFF for w in words)
    decoded = decode_registers(spec, words)
    if point.value_type.value == "float32" and point.scale == 1.0 and point.offset == 0.0:
        assert decoded == pytest.approx(value, rel=1e-6, abs=1e-44)
    elif point.scale == 1.0 and point.offset == 0.0:
        assert decoded == value
        assert type(decoded) is int
    elif point.value_type.value == "float32":
        # float32 keeps 24 bits of the raw value; decoding rounds to 6 decimals.
        tolerance = 1e-6 + 1e-6 * (abs(value) + abs(point.offset))
        assert decoded == pytest.approx(value, abs=tolerance)
    else:
        assert decoded == pytest.approx(value, abs=1e-6, rel=1e-12)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), _orders, _orders)
def test_float32_round_trip_is_bit_exact(value: float, word_order: str, byte_order: str) -> None:
    point = PointSpec(
        label="f",
        table="input_register",
        address=0,
        type="float32",
        word_order=word_order,
        byte_order=byte_order,
    )
    words = encode_point(point, value)
    decoded = decode_registers(register_spec("f", point), words)
    assert _float32_bits(decoded) == _float32_bits(value)
    assert encode_point(point, decoded) == words


@given(
    bit=st.integers(0, 15),
    current=st.integers(0, 0xFFFF),
    value=st.booleans(),
    table=st.sampled_from(["holding_register", "input_register"]),
)
def test_bit_in_register_round_trips_and_keeps_other_bits(
    bit: int, current: int, value: bool, table: str
) -> None:
    point = PointSpec(label="b", table=table, address=0, bit=bit)
    words = encode_point(point, value, current)
    assert len(words) == 1
    assert decode_registers(register_spec("b", point), words) is value
    mask = 1 << bit
    assert words[0] & ~mask & 0xFFFF == current & ~mask & 0xFFFF


@given(table=st.sampled_from(["coil", "discrete_input"]), value=st.booleans())
def test_bit_table_encodes_one_bit(table: str, value: bool) -> None:
    point = PointSpec(label="b", table=table, address=0)
    assert encode_point(point, value) == [1 if value else 0]


def test_encoder_words_match_hand_computed_layouts() -> None:
    # Independent of the decoder: the simulator must lay 1.5 out as the device manuals do.
    for (word_order, byte_order), words in zip(
        ORDERS, [[0x3FC0, 0], [0, 0x3FC0], [0xC03F, 0], [0, 0xC03F]], strict=True
    ):
        point = PointSpec(
            label="f",
            table="input_register",
            address=0,
            type="float32",
            word_order=word_order,
            byte_order=byte_order,
        )
        assert encode_point(point, 1.5) == words
    point = PointSpec(
        label="r", table="input_register", address=0, type="uint32", scale=0.1, word_order="little"
    )
    assert encode_point(point, 12345.6) == [0xE240, 0x0001]  # raw 123456 = 0x0001E240


# --------------------------------------------------------------------------------------------
# 4. Change detection and engineering values
# --------------------------------------------------------------------------------------------


def _analog(deadband: float) -> PointSpec:
    return PointSpec(
        label="pressure", table="input_register", address=0, type="float32", deadband=deadband
    )


def _state(
    value: object,
    reported: object,
    quality: Quality = Quality.GOOD,
    reported_quality: Quality | None = Quality.GOOD,
) -> PointState:
    return PointState(
        value=value, quality=quality, ts=1, reported=reported, reported_quality=reported_quality
    )


@pytest.mark.parametrize(
    ("value", "significant"),
    [
        (10.0, False),
        (10.4, False),
        (9.6, False),
        (10.5, False),  # exactly one deadband away is not *beyond* it
        (9.5, False),
        (10.51, True),
        (9.49, True),
        (25.0, True),
        (-3.0, True),
    ],
)
def test_analog_deadband(value: float, significant: bool) -> None:
    assert is_significant(_analog(0.5), _state(value, 10.0)) is significant


def test_analog_without_deadband_reports_any_change() -> None:
    point = _analog(0.0)
    assert is_significant(point, _state(0.4200001, 0.42)) is True
    assert is_significant(point, _state(0.42, 0.42)) is False
    assert is_significant(point, _state(7, 6)) is True  # integers too


def test_deadband_applies_to_integer_analog_points() -> None:
    point = PointSpec(label="n", table="input_register", address=0, type="uint16", deadband=5)
    assert is_significant(point, _state(104, 100)) is False
    assert is_significant(point, _state(106, 100)) is True


def test_exactly_one_deadband_is_judged_the_same_at_any_magnitude() -> None:
    """run_hours (uint32, scale 0.1, deadband 0.1): a one-count change is exactly one deadband.

    Whether it is reported must not depend on float rounding noise of the subtraction: 0.3 - 0.2
    is 0.09999999999999998 but 12345.7 - 12345.6 is 0.10000000000036380.
    """
    point = PointSpec(
        label="run hours",
        table="input_register",
        address=0,
        type="uint32",
        scale=0.1,
        deadband=0.1,
    )
    spec = register_spec("run_hours", point)

    def hours(raw: int) -> float:
        return decode_registers(spec, [raw >> 16, raw & 0xFFFF])

    small = is_significant(point, _state(hours(3), hours(2)))
    large = is_significant(point, _state(hours(123457), hours(123456)))
    assert (small, large) == (False, False)


@pytest.mark.parametrize(
    ("quality", "reported_quality"),
    [
        (Quality.BAD, Quality.GOOD),
        (Quality.GOOD, Quality.BAD),
        (Quality.GOOD, None),  # never reported yet
        (Quality.BAD, None),
    ],
)
def test_quality_change_is_always_significant(
    quality: Quality, reported_quality: Quality | None
) -> None:
    # Same value, and a huge deadband: only the quality changed, and that alone must be reported.
    point = _analog(1000.0)
    assert is_significant(point, _state(10.0, 10.0, quality, reported_quality)) is True
    digital = PointSpec(label="d", table="discrete_input", address=0)
    assert is_significant(digital, _state(True, True, quality, reported_quality)) is True


def test_digital_and_state_points_ignore_deadband() -> None:
    digital = PointSpec(label="d", table="discrete_input", address=0, deadband=5)
    assert is_significant(digital, _state(True, False)) is True
    assert is_significant(digital, _state(False, True)) is True
    assert is_significant(digital, _state(True, True)) is False

    bit = PointSpec(label="z", table="input_register", address=0, bit=2, deadband=5)
    assert is_significant(bit, _state(True, False)) is True

    states = PointSpec(
        label="s",
        table="holding_register",
        address=0,
        states={0: "none", 1: "demand"},
        deadband=5,
    )
    assert is_significant(states, _state("demand", "none")) is True
    assert is_significant(states, _state("none", "none")) is False
    # A number the profile does not name is still a change of state.
    assert is_significant(states, _state("7", "none")) is True


def test_engineering_value_names_states() -> None:
    point = PointSpec(
        label="start cause",
        table="holding_register",
        address=0,
        type="uint16",
        states={0: "none", 1: "demand", 2: "test", 3: "manual"},
    )
    assert [engineering_value(point, raw) for raw in range(4)] == [
        "none",
        "demand",
        "test",
        "manual",
    ]
    assert engineering_value(point, 7) == "7"
    assert engineering_value(point, 65535) == "65535"


def test_engineering_value_passes_other_values_through() -> None:
    analog = _analog(0.0)
    assert engineering_value(analog, 0.42) == 0.42
    counter = PointSpec(label="n", table="input_register", address=0)
    assert engineering_value(counter, 17) == 17
    digital = PointSpec(label="d", table="discrete_input", address=0)
    assert engineering_value(digital, True) is True
    assert engineering_value(digital, False) is False


def test_engineering_value_with_profile_states(example_site_loaded: Site) -> None:
    start_cause = example_site_loaded.point(NODE, "fire-pump-1", "start_cause")
    assert start_cause is not None
    assert engineering_value(start_cause, 1) == "demand"
    assert engineering_value(start_cause, 9) == "9"


# --------------------------------------------------------------------------------------------
# 5. A real Modbus TCP server (the simulator) read through ModbusBus
# --------------------------------------------------------------------------------------------


@pytest.fixture
def example_site_loaded() -> Site:
    return load_site(EXAMPLE_SITE)


@pytest.fixture
async def sim(example_site_loaded: Site) -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator(example_site_loaded, NODE, port=0) as running:
        assert running.ports[GATEWAY] > 0
        yield running


@pytest.fixture
async def bus(sim: ModbusSimulator) -> AsyncIterator[ModbusBus]:
    settings = BusSettings("tcp", host="127.0.0.1", port=sim.ports[GATEWAY], timeout_s=0.5)
    async with ModbusBus(settings) as running:
        yield running


def _device(sim: ModbusSimulator, device_id: str) -> Device:
    return sim.node.devices[device_id]


async def _read_device(bus: ModbusBus, device: Device) -> dict[str, bool | int | float]:
    blocks = plan_reads([register_spec(n, p) for n, p in device.points.items()])
    values: dict[str, bool | int | float] = {}
    for block in blocks:
        values.update(await bus.read(device.unit, block))
    return values


async def test_reads_what_the_simulator_serves(sim: ModbusSimulator, bus: ModbusBus) -> None:
    await sim.set("fire-pump-1", "running", True)
    await sim.set("fire-pump-1", "in_auto", True)
    await sim.set("fire-pump-1", "power_available", True)
    await sim.set("fire-pump-1", "failed_to_start", True)
    await sim.set("fire-pump-1", "start_cause", "demand")
    await sim.set("fire-pump-1", "run_hours", 1234.5)
    await sim.set("jockey-pump", "starts_today", 17)
    await sim.set("jockey-pump", "fault", True)
    await sim.set("supply-pressure", "pressure", 0.42)
    await sim.set("pumproom-leak", "zone2", True)
    await sim.set("pumproom-leak", "cable_fault", True)
    await sim.set("valve-station-1", "valve_open", True)

    pump = await _read_device(bus, _device(sim, "fire-pump-1"))
    assert pump == {
        "running": True,
        "fault": False,
        "in_auto": True,
        "power_available": True,
        "phase_failure": False,
        "failed_to_start": True,
        "start_cause": 1,
        "run_hours": 1234.5,
    }
    assert engineering_value(_device(sim, "fire-pump-1").points["start_cause"], 1) == "demand"

    assert await _read_device(bus, _device(sim, "jockey-pump")) == {
        "running": False,
        "fault": True,
        "in_auto": False,
        "starts_today": 17,
    }

    pressure = await _read_device(bus, _device(sim, "supply-pressure"))
    assert pressure == {"pressure": pytest.approx(0.42, abs=1e-6)}

    leak_device = _device(sim, "pumproom-leak")
    leak_blocks = plan_reads([register_spec(n, p) for n, p in leak_device.points.items()])
    # Five bits of one status register: one request, one register.
    assert [(b.table, b.address, b.count) for b in leak_blocks] == [("input_register", 0, 1)]
    assert await bus.read(leak_device.unit, leak_blocks[0]) == {
        "zone1": False,
        "zone2": True,
        "zone3": False,
        "zone4": False,
        "cable_fault": True,
    }

    assert await _read_device(bus, _device(sim, "valve-station-1")) == {
        "waterflow": False,
        "pressure_switch": False,
        "valve_open": True,
        "waterflow_latch": False,
    }


async def test_reads_follow_changes(sim: ModbusSimulator, bus: ModbusBus) -> None:
    device = _device(sim, "pumproom-leak")
    await sim.set("pumproom-leak", "zone1", True)
    await sim.set("pumproom-leak", "zone4", True)
    values = await _read_device(bus, device)
    assert (values["zone1"], values["zone4"]) == (True, True)

    await sim.set("pumproom-leak", "zone1", False)  # must not clear zone4 (same register)
    values = await _read_device(bus, device)
    assert (values["zone1"], values["zone4"]) == (False, True)

    await sim.set("supply-pressure", "pressure", 0.31)
    first = await _read_device(bus, _device(sim, "supply-pressure"))
    await sim.set("supply-pressure", "pressure", -0.05)
    second = await _read_device(bus, _device(sim, "supply-pressure"))
    assert first["pressure"] == pytest.approx(0.31, abs=1e-6)
    assert second["pressure"] == pytest.approx(-0.05, abs=1e-6)

    await sim.set("fire-pump-1", "run_hours", 429496729.5)  # raw 0xFFFFFFFF, the uint32 max
    assert (await _read_device(bus, _device(sim, "fire-pump-1")))["run_hours"] == 429496729.5


async def test_one_block_per_request_in_a_merged_plan(sim: ModbusSimulator, bus: ModbusBus) -> None:
    # fire-pump-1's six discrete inputs are contiguous: a single request serves all of them.
    device = _device(sim, "fire-pump-1")
    specs = [
        register_spec(n, p) for n, p in device.points.items() if p.table.value == "discrete_input"
    ]
    blocks = plan_reads(specs)
    assert [(b.table, b.address, b.count) for b in blocks] == [("discrete_input", 0, 6)]
    await sim.set("fire-pump-1", "phase_failure", True)
    values = await bus.read(device.unit, blocks[0])
    assert values["phase_failure"] is True
    assert sum(values.values()) == 1


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(reg("uint16", 1, "holding_register", name="beyond"), id="past-the-end"),
        pytest.param(reg("uint16", 500, "input_register", name="far"), id="far-away"),
        pytest.param(reg("uint32", 0, "holding_register", name="straddle"), id="straddles-end"),
        pytest.param(reg("bool", 16, "discrete_input", name="di16"), id="discrete-input"),
    ],
)
async def test_missing_address_is_an_illegal_data_address(
    sim: ModbusSimulator, bus: ModbusBus, spec: RegisterSpec
) -> None:
    # fire-pump-1 (unit 1) has holding register 0, input registers 0-1 and discrete inputs 0-5
    # (the simulator keeps bits in 16-bit words, so discrete inputs 6-15 exist there too).
    unit = _device(sim, "fire-pump-1").unit
    with pytest.raises(DeviceError) as caught:
        await bus.read(unit, plan_reads([spec])[0])
    assert "illegal data address" in caught.value.reason
    assert f"unit {unit}" in caught.value.reason
    assert "exception 2" in caught.value.reason
    # An exception answer is not a broken bus: the next good read works.
    await sim.set("fire-pump-1", "start_cause", "test")
    ok = await bus.read(unit, plan_reads([reg("uint16", 0, "holding_register", name="sc")])[0])
    assert ok == {"sc": 2}


async def test_unit_not_on_the_bus(sim: ModbusSimulator, bus: ModbusBus) -> None:
    units = {d.unit for d in sim.node.devices.values()}
    missing = 9
    assert missing not in units
    block = plan_reads([reg("uint16", 0, "holding_register", name="x")])[0]
    with pytest.raises(DeviceError) as caught:
        await bus.read(missing, block)
    assert f"unit {missing}" in caught.value.reason
    # The other devices on the bus are unaffected.
    await sim.set("jockey-pump", "starts_today", 3)
    jockey = _device(sim, "jockey-pump")
    assert (await _read_device(bus, jockey))["starts_today"] == 3


class _Clock:
    """Stands in for `time` inside drivers.modbus.bus, so backoff windows pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(bus_module, "time", fake)
    return fake


@pytest.fixture
def refused_port() -> Iterator[socket.socket]:
    """A port bound but not listening: connections to it are refused, and nobody else gets it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def _count_connects(bus: ModbusBus, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    calls: list[None] = []
    client = bus._client
    real_connect = client.connect

    async def counting_connect() -> bool:
        calls.append(None)
        return await real_connect()

    monkeypatch.setattr(client, "connect", counting_connect)
    return calls


def _retry_in(reason: str) -> float:
    assert "not connected; retry in" in reason, reason
    return float(reason.rsplit("retry in ", 1)[1].removesuffix(" s"))


async def test_closed_port_then_backoff_without_connecting(
    refused_port: socket.socket, clock: _Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = refused_port.getsockname()[1]
    settings = BusSettings("tcp", host="127.0.0.1", port=port, timeout_s=0.5)
    block = plan_reads([reg("uint16", 0, name="x")])[0]
    async with ModbusBus(settings) as bus:
        connects = _count_connects(bus, monkeypatch)

        with pytest.raises(DeviceError) as caught:
            await bus.read(1, block)
        assert caught.value.reason == f"cannot connect to modbus+tcp://127.0.0.1:{port}"
        assert len(connects) == 1

        # Inside the backoff window: refused at once, without touching the network.
        for elapsed in (0.0, 0.2, 0.49):
            clock.now = 1000.0 + elapsed
            with pytest.raises(DeviceError) as caught:
                await bus.read(1, block)
            assert caught.value.reason.startswith(f"modbus+tcp://127.0.0.1:{port} not connected")
            assert _retry_in(caught.value.reason) == pytest.approx(
                BACKOFF_START_S - elapsed, abs=0.051
            )
        assert len(connects) == 1


async def test_backoff_doubles_up_to_the_cap(
    refused_port: socket.socket, clock: _Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = BusSettings("tcp", port=refused_port.getsockname()[1], timeout_s=0.5)
    block = plan_reads([reg("uint16", 0, name="x")])[0]
    windows: list[float] = []
    async with ModbusBus(settings) as bus:
        connects = _count_connects(bus, monkeypatch)
        for attempt in range(1, 10):
            with pytest.raises(DeviceError, match="cannot connect"):
                await bus.read(1, block)
            assert len(connects) == attempt
            with pytest.raises(DeviceError) as caught:
                await bus.read(1, block)
            window = _retry_in(caught.value.reason)
            windows.append(window)
            clock.now += window  # the window has passed: the next read tries again
        assert len(connects) == 9
    assert windows == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert max(windows) == BACKOFF_CAP_S


async def test_bus_recovers_when_the_device_comes_back(
    refused_port: socket.socket,
    clock: _Clock,
    monkeypatch: pytest.MonkeyPatch,
    example_site_loaded: Site,
) -> None:
    port = refused_port.getsockname()[1]
    settings = BusSettings("tcp", port=port, timeout_s=0.5)
    block = plan_reads([reg("uint16", 0, "input_register", name="starts")])[0]
    async with ModbusBus(settings) as bus:
        connects = _count_connects(bus, monkeypatch)
        for _ in range(3):  # three failures: the window is now 4 s
            with pytest.raises(DeviceError, match="cannot connect"):
                await bus.read(2, block)
            with pytest.raises(DeviceError) as caught:
                await bus.read(2, block)
            clock.now += _retry_in(caught.value.reason)

        refused_port.close()  # free the port for the device coming back
        async with ModbusSimulator(example_site_loaded, NODE, port=port) as sim:
            assert sim.ports[GATEWAY] == port
            await sim.set("jockey-pump", "starts_today", 42)
            assert await bus.read(2, block) == {"starts": 42}
            assert len(connects) == 4
            assert await bus.read(2, block) == {"starts": 42}
            assert len(connects) == 4  # connected: no new connection per read

        # The device goes away again: the backoff starts over from the first window.
        bus.close()
        with pytest.raises(DeviceError, match="cannot connect"):
            await bus.read(2, block)
        with pytest.raises(DeviceError) as caught:
            await bus.read(2, block)
        assert _retry_in(caught.value.reason) == BACKOFF_START_S
