"""Decode Modbus registers and bits into engineering values (types, word/byte order, bits, scale)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

Table = Literal["coil", "discrete_input", "holding_register", "input_register"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
Order = Literal["big", "little"]

_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}
_WORDS = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}


@dataclass(frozen=True)
class RegisterSpec:
    """Where one value sits in a device's register map and how to turn it into a number."""

    name: str
    table: Table
    address: int
    dtype: DataType = "uint16"
    bit: int | None = None
    word_order: Order = "big"
    byte_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def is_bit_table(self) -> bool:
        return self.table in ("coil", "discrete_input")

    @property
    def width(self) -> int:
        """How many addresses (bits or 16-bit registers) the value occupies."""
        if self.is_bit_table or self.bit is not None:
            return 1
        return _WORDS[self.dtype]


def register_count(dtype: DataType) -> int:
    return _WORDS[dtype]


def _shortest_float32(value: float) -> float:
    """The shortest decimal that is still the same float32 (0.2, not 0.20000000298023224)."""
    exact = struct.pack(">f", value)
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == exact:
            return candidate
    return value


def _check_numeric(spec: RegisterSpec) -> None:
    """A whole register holds a number; a bool in one is a single bit and needs `bit`. The site
    file's checks refuse such a spec, so this guards callers that build specs themselves: the
    documented ValueError, not a KeyError from deep inside."""
    if spec.dtype not in _STRUCT:
        raise ValueError(f"{spec.name}: a {spec.dtype} read from a register needs 'bit'")


def decode_bits(spec: RegisterSpec, bits: list[bool]) -> bool:
    return bool(bits[0])


def decode_registers(spec: RegisterSpec, words: list[int]) -> bool | int | float:
    """Decode the `spec.width` registers starting at the spec's address.

    Raises ValueError for a wrong number of words (a short frame must never become a value).
    """
    if len(words) != spec.width:
        raise ValueError(f"{spec.name}: expected {spec.width} register(s), got {len(words)}")
    if spec.bit is not None:
        return bool((words[0] >> spec.bit) & 1)
    _check_numeric(spec)
    ordered = list(reversed(words)) if spec.word_order == "little" else list(words)
    raw = b"".join(w.to_bytes(2, "big")[:: 1 if spec.byte_order == "big" else -1] for w in ordered)
    (value,) = struct.unpack(">" + _STRUCT[spec.dtype], raw)
    if spec.dtype == "float32":
        if not math.isfinite(value):
            raise ValueError(f"{spec.name}: register value is not a finite number")
        value = _shortest_float32(value)
    if spec.scale == 1.0 and spec.offset == 0.0:
        return value
    return round(value * spec.scale + spec.offset, 6)


def encode_registers(spec: RegisterSpec, value: bool | int | float, current: int = 0) -> list[int]:
    """The register words that hold `value` (engineering units) for a holding-register spec.

    `current` is the register's present content, kept for bit-in-register writes.
    """
    if spec.bit is not None:
        mask = 1 << spec.bit
        return [(current | mask) if value else (current & ~mask)]
    _check_numeric(spec)
    raw = (float(value) - spec.offset) / spec.scale
    number: int | float = raw if spec.dtype == "float32" else round(raw)
    try:
        packed = struct.pack(">" + _STRUCT[spec.dtype], number)
    except struct.error as exc:
        raise ValueError(f"{spec.name}: {value!r} does not fit {spec.dtype}: {exc}") from None
    words = [
        int.from_bytes(packed[i : i + 2][:: 1 if spec.byte_order == "big" else -1], "big")
        for i in range(0, len(packed), 2)
    ]
    return list(reversed(words)) if spec.word_order == "little" else words
