"""The site-file and device-profile models: what a site has, and how each device's points read.

Loading YAML and reporting problems with line numbers lives in `sitewatch.configload`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from sitewatch.alarmconfig import (  # noqa: F401  (re-exported: part of the site model)
    AlarmOverride,
    AlarmRule,
    Category,
    Ident,
    Priority,
    Suppression,
    WeeklyWindow,
    _Strict,
)
from sitewatch.dutyconfig import Duty
from sitewatch.inspectionconfig import Inspection
from sitewatch.parkingconfig import Parking
from sitewatch.patrolconfig import Patrol


class Table(StrEnum):
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING_REGISTER = "holding_register"
    INPUT_REGISTER = "input_register"

    @property
    def is_bit(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)


class DataType(StrEnum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"


class ScanClass(StrEnum):
    FAST = "fast"
    NORMAL = "normal"
    SLOW = "slow"


class PointSpec(_Strict):
    """One point of a device profile: where it sits in the register map and how to decode it."""

    label: str = Field(min_length=1, max_length=120)
    table: Table
    address: int = Field(ge=0, le=65535)
    type: DataType | None = None
    bit: int | None = Field(default=None, ge=0, le=15)
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = Field(default=None, max_length=16)
    states: dict[int, str] | None = None
    scan: ScanClass = ScanClass.NORMAL
    deadband: float = Field(default=0.0, ge=0)
    alarm: AlarmRule | None = None
    latch: str | None = Field(
        default=None,
        description="a bool point the device sets on a rising edge and holds until cleared, so a "
        "pulse shorter than the scan period is still seen; a coil latch is cleared by writing false",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.table.is_bit:
            if self.type not in (None, DataType.BOOL):
                raise ValueError(f"a {self.table.value} is a single bit; its type can only be bool")
            if self.bit is not None:
                raise ValueError(f"'bit' applies to registers, not to a {self.table.value}")
        elif self.bit is not None and self.type not in (None, DataType.UINT16, DataType.INT16):
            raise ValueError(
                "'bit' selects a bit of one 16-bit register; drop 'type' or use uint16"
            )
        elif self.type is DataType.BOOL and self.bit is None:
            raise ValueError("a bool read from a register needs 'bit'")
        if self.scale == 0:
            raise ValueError("'scale' cannot be 0 (every reading would be the offset)")
        if self.states is not None and (
            self.is_bool
            or self.value_type is DataType.FLOAT32
            or (self.scale, self.offset) != (1, 0)
        ):
            raise ValueError("'states' names the values of an unscaled integer point")
        if self.alarm is None:
            return self
        when = self.alarm.when
        if when is None and (self.is_bool or self.states):
            raise ValueError("a digital or state point alarms with 'when', not with limits")
        if when is None:
            return self
        if self.is_analog:
            raise ValueError("an analog point alarms with 'low'/'high' limits, not 'when'")
        if self.is_bool and not isinstance(when, bool):
            raise ValueError(
                f"a bool point alarms with 'when: true' or 'when: false', not {when!r}"
            )
        if self.states and (not isinstance(when, str) or when not in self.states.values()):
            known = ", ".join(self.states.values())
            raise ValueError(f"alarm 'when: {when}' is not one of the states ({known})")
        return self

    @property
    def is_bool(self) -> bool:
        return self.table.is_bit or self.bit is not None

    @property
    def value_type(self) -> DataType:
        if self.is_bool:
            return DataType.BOOL
        return self.type or DataType.UINT16

    @property
    def is_analog(self) -> bool:
        return not self.is_bool and self.states is None


class DeviceProfile(_Strict):
    """A reusable register map for one kind of device (config/devices/*.yaml)."""

    profile: Ident
    description: str = Field(min_length=1, max_length=200)
    points: dict[Ident, PointSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _latches_exist(self) -> Self:
        for name, point in self.points.items():
            if point.latch is None:
                continue
            latch = self.points.get(point.latch)
            if latch is None:
                raise ValueError(
                    f"point '{name}' names latch '{point.latch}', which is not a point"
                )
            if not latch.is_bool or not point.is_bool:
                raise ValueError(f"latch '{point.latch}' of '{name}': both must be bool points")
            if latch.scan is not point.scan:
                raise ValueError(f"latch '{point.latch}' must have the same scan class as '{name}'")
        return self


class TcpBus(_Strict):
    transport: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    timeout_s: float = Field(default=1.0, gt=0, le=30)


class RtuBus(_Strict):
    transport: Literal["rtu"]
    device: str = Field(min_length=1, description="serial port, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)


Bus = Annotated[TcpBus | RtuBus, Field(discriminator="transport")]


class DeviceConfig(_Strict):
    name: str = Field(min_length=1, max_length=120)
    profile: Ident
    bus: Ident
    unit: int = Field(default=1, ge=0, le=247)
    location: str | None = Field(default=None, max_length=120)
    alarms: dict[Ident, AlarmOverride] = Field(default_factory=dict)


class ReaderConfig(_Strict):
    """A serial card reader: an NFC checkpoint reader on patrol, or a parking-gate lane reader."""

    name: str = Field(min_length=1, max_length=120)
    family: Literal["line", "pn532", "rdm6300", "wiegand"] = Field(
        description="line: hex UID per line; pn532: PN532 HSU; rdm6300: 125 kHz EM4100; "
        "wiegand: Wiegand 26/34 bit strings from a serial converter"
    )
    port: str = Field(min_length=1, description="serial device, e.g. /dev/ttyUSB1")
    baudrate: int | None = Field(default=None, gt=0, description="default: the family's usual")
    debounce_s: float = Field(default=2.0, ge=0, le=60)
    role: Literal["checkpoint", "gate"]
    location: str | None = Field(default=None, max_length=120)
    lane: Ident | None = None
    direction: Literal["in", "out"] | None = None

    @model_validator(mode="after")
    def _role_fields(self) -> Self:
        if self.role == "gate" and (self.lane is None or self.direction is None):
            raise ValueError("a gate reader needs 'lane' and 'direction' (in or out)")
        if self.role == "checkpoint" and (self.lane is not None or self.direction is not None):
            raise ValueError("'lane' and 'direction' are for gate readers")
        return self

    @property
    def default_baudrate(self) -> int:
        return (
            self.baudrate
            or {"line": 9600, "pn532": 115200, "rdm6300": 9600, "wiegand": 9600}[self.family]
        )


class ScanPeriods(_Strict):
    fast_ms: int = Field(default=250, ge=50, le=250)
    normal_ms: int = Field(default=1000, ge=100, le=60_000)
    slow_ms: int = Field(default=5000, ge=100, le=600_000)


class NodeConfig(_Strict):
    name: str = Field(min_length=1, max_length=120)
    heartbeat_s: int = Field(default=30, ge=5, le=300)
    telemetry_s: int = Field(
        default=60, ge=1, le=3600, description="how often analog values are sampled for trends"
    )
    scan: ScanPeriods = Field(default_factory=ScanPeriods)
    buses: dict[Ident, Bus] = Field(default_factory=dict)
    devices: dict[Ident, DeviceConfig] = Field(default_factory=dict)
    readers: dict[Ident, ReaderConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _serial_ports_unshared(self) -> Self:
        owners: dict[str, str] = {}
        rtu = {bus_id: bus.device for bus_id, bus in self.buses.items() if isinstance(bus, RtuBus)}
        for owner, port in [*rtu.items(), *((r, c.port) for r, c in self.readers.items())]:
            if port in owners:
                raise ValueError(
                    f"serial port {port} is used by both '{owners[port]}' and '{owner}'"
                )
            owners[port] = owner
        return self


class SiteInfo(_Strict):
    id: Annotated[Ident, Field(description="'cloud' is reserved for the cloud's state topic")]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _not_reserved(self) -> Self:
        if self.id == "cloud":
            raise ValueError("site id 'cloud' is reserved (sw/v1/cloud/state is the cloud's topic)")
        return self

    name: str = Field(min_length=1, max_length=120)
    timezone: str = "Asia/Shanghai"


class SiteFile(_Strict):
    """The top level of a site file, as written."""

    site: SiteInfo
    profiles_dir: str = "devices"
    nodes: dict[Ident, NodeConfig] = Field(min_length=1)
    suppressions: list[Suppression] = Field(default_factory=list)
    patrol: Patrol = Field(default_factory=Patrol)
    parking: Parking = Field(default_factory=Parking)
    duty: Duty = Field(default_factory=Duty)
    inspection: Inspection = Field(default_factory=Inspection)


@dataclass(frozen=True)
class Device:
    """A device with its profile resolved and the site's alarm overrides applied."""

    id: str
    node: str
    name: str
    profile: str
    bus: str
    unit: int
    location: str | None
    points: dict[str, PointSpec]


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    heartbeat_s: int
    scan: ScanPeriods
    buses: dict[str, TcpBus | RtuBus]
    devices: dict[str, Device]
    readers: dict[str, ReaderConfig] = field(default_factory=dict)
    telemetry_s: int = 60


@dataclass(frozen=True)
class Site:
    """A validated site: everything the edge and the cloud need to know about it."""

    id: str
    name: str
    timezone: str
    nodes: dict[str, Node]
    source: dict = field(repr=False, compare=False, default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    suppressions: tuple[Suppression, ...] = ()
    patrol: Patrol = field(default_factory=Patrol, compare=False)
    parking: Parking = field(default_factory=Parking, compare=False)
    duty: Duty = field(default_factory=Duty, compare=False)
    inspection: Inspection = field(default_factory=Inspection, compare=False)

    @property
    def config_hash(self) -> str:
        """Changes when the site file or any profile it uses changes."""
        profiles = {
            f"{node.id}/{device.id}": {
                n: p.model_dump(mode="json") for n, p in device.points.items()
            }
            for node in self.nodes.values()
            for device in node.devices.values()
        }
        canonical = json.dumps([self.source, profiles], sort_keys=True, default=str).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]

    def device(self, node: str, device: str) -> Device | None:
        found = self.nodes.get(node)
        return found.devices.get(device) if found else None

    def point(self, node: str, device: str, point: str) -> PointSpec | None:
        found = self.device(node, device)
        return found.points.get(point) if found else None

    def with_bus(self, node: str, bus: str, **changes: object) -> Site:
        """A copy with one bus's settings changed, e.g. the port a simulator actually bound."""
        target = self.nodes[node]
        buses = dict(target.buses)
        buses[bus] = buses[bus].model_copy(update=changes)
        nodes = dict(self.nodes)
        nodes[node] = replace(target, buses=buses)
        return replace(self, nodes=nodes)

    def with_reader_port(self, node: str, reader: str, port: str) -> Site:
        """A copy with one reader on another serial port, e.g. a simulator's pseudo-terminal."""
        target = self.nodes[node]
        readers = dict(target.readers)
        readers[reader] = readers[reader].model_copy(update={"port": port})
        nodes = dict(self.nodes)
        nodes[node] = replace(target, readers=readers)
        return replace(self, nodes=nodes)
