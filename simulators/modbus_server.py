"""Serve a node's Modbus devices from their profiles: a Modbus TCP server per TCP bus, and a
Modbus RTU server on a pseudo-terminal per RTU bus, with per-device fault injection."""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simdevice import SimAction

from simulators.faults import Fault, FaultInjector
from simulators.serial_link import NullModem
from sitewatch.siteconfig import DataType, Device, PointSpec, RtuBus, Site, Table, TcpBus

log = logging.getLogger(__name__)

_FUNCTION_CODE = {
    Table.COIL: 1,
    Table.DISCRETE_INPUT: 2,
    Table.HOLDING_REGISTER: 3,
    Table.INPUT_REGISTER: 4,
}
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}
_WRITTEN_TABLE = {
    5: Table.COIL,
    15: Table.COIL,
    6: Table.HOLDING_REGISTER,
    16: Table.HOLDING_REGISTER,
}
_TABLE_ORDER = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING_REGISTER, Table.INPUT_REGISTER)


def encode_point(spec: PointSpec, value: bool | int | float, current: int = 0) -> list[int]:
    """The words (or bits, as 0/1) a device would hold for `value`; `current` is the old
    register for bit-in-register points, whose other bits must be kept."""
    if spec.table.is_bit:
        return [1 if value else 0]
    if spec.bit is not None:
        mask = 1 << spec.bit
        return [(current | mask) if value else (current & ~mask)]
    dtype = spec.value_type
    raw = (float(value) - spec.offset) / spec.scale
    number: int | float = raw if dtype is DataType.FLOAT32 else round(raw)
    packed = struct.pack(">" + _STRUCT[dtype.value], number)
    words = [
        int.from_bytes(packed[i : i + 2][:: 1 if spec.byte_order == "big" else -1], "big")
        for i in range(0, len(packed), 2)
    ]
    return list(reversed(words)) if spec.word_order == "little" else words


def _width(spec: PointSpec) -> int:
    return 2 if spec.value_type in (DataType.INT32, DataType.UINT32, DataType.FLOAT32) else 1


def _sim_device(device: Device, action: SimAction | None = None) -> SimDevice:
    blocks = []
    for table in _TABLE_ORDER:
        size = max(
            (p.address + _width(p) for p in device.points.values() if p.table is table), default=1
        )
        if table.is_bit:
            blocks.append([SimData(0, count=size, values=False, datatype=SimType.BITS)])
        else:
            blocks.append([SimData(0, count=size, values=0, datatype=SimType.REGISTERS)])
    return SimDevice(id=device.unit, simdata=tuple(blocks), action=action)


@dataclass(frozen=True)
class Write:
    """One write a client made: what a real device's outputs would have been told to do."""

    device: str
    table: Table
    address: int
    values: tuple[int | bool, ...]
    at: float  # time.monotonic()


class ModbusSimulator:
    """Servers for every bus of one node; `set` changes what a device reports, `fault` how it answers."""

    def __init__(self, site: Site, node: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.site = site
        self.node = site.nodes[node]
        self.host = host
        self._requested_port = port
        self.ports: dict[str, int] = {}
        self.serial_paths: dict[str, str] = {}
        self._servers: dict[str, ModbusTcpServer | ModbusSerialServer] = {}
        self._injectors: dict[str, FaultInjector] = {}
        self._stuck: set[str] = set()
        self._lines: list[NullModem] = []
        self._words: dict[tuple[str, Table, int], int] = {}
        self.values: dict[tuple[str, str], bool | int | float] = {}
        # Every client write in order, and who wants to hear of each (e.g. a barrier model).
        self.writes: list[Write] = []
        self.on_write: list[Callable[[Write], None]] = []

    async def __aenter__(self) -> ModbusSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        port = self._requested_port
        for bus_id, bus in self.node.buses.items():
            devices = [
                _sim_device(d, functools.partial(self._on_access, d.id))
                for d in self.node.devices.values()
                if d.bus == bus_id
            ]
            if not devices:
                continue
            injector = FaultInjector(rtu=isinstance(bus, RtuBus))
            self._injectors[bus_id] = injector
            if isinstance(bus, TcpBus):
                server: ModbusTcpServer | ModbusSerialServer = ModbusTcpServer(
                    devices, address=(self.host, port), trace_packet=injector
                )
                port = 0  # a requested port serves the first TCP bus; the OS picks the others
                await server.serve_forever(background=True)
                self.ports[bus_id] = server.transport.sockets[0].getsockname()[1]
                log.info("simulating bus %s on %s:%s", bus_id, self.host, self.ports[bus_id])
            else:
                line = NullModem()
                self._lines.append(line)
                server = ModbusSerialServer(
                    devices,
                    port=line.a.path,
                    baudrate=bus.baudrate,
                    parity=bus.parity,
                    stopbits=bus.stopbits,
                    trace_packet=injector,
                    # A unit that is not on the line stays silent, as on a real RS-485 bus.
                    ignore_missing_devices=True,
                )
                await server.serve_forever(background=True)
                self.serial_paths[bus_id] = line.b.path
                log.info("simulating RTU bus %s on %s", bus_id, line.b.path)
            self._servers[bus_id] = server

    async def stop(self) -> None:
        for server in self._servers.values():
            await server.shutdown()
        self._servers.clear()
        for line in self._lines:
            line.close()
        self._lines.clear()
        await asyncio.sleep(0)

    def site_for_edge(self) -> Site:
        """The site with each simulated bus pointing at where the simulator really listens."""
        site = self.site
        for bus_id, port in self.ports.items():
            site = site.with_bus(self.node.id, bus_id, host=self.host, port=port)
        for bus_id, path in self.serial_paths.items():
            site = site.with_bus(self.node.id, bus_id, device=path)
        return site

    def fault(self, device_id: str, fault: Fault | None) -> None:
        """Make a device misbehave (or behave again, with None)."""
        device = self.node.devices[device_id]
        faults = self._injectors[device.bus].faults
        self._stuck.discard(device_id)
        faults.pop(device.unit, None)
        if fault is Fault.STUCK:
            self._stuck.add(device_id)
        elif fault is not None:
            faults[device.unit] = fault

    async def _on_access(
        self,
        device_id: str,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current: list[int],
        written: list[int] | list[bool] | None,
    ) -> None:
        """A stuck device acknowledges writes but its outputs do the opposite of what was asked."""
        if written is not None and device_id in self._stuck:
            written[:] = [(not v) if isinstance(v, bool) else (v ^ 0xFFFF) for v in written]
        if written is not None and function_code in _WRITTEN_TABLE:
            write = Write(
                device_id, _WRITTEN_TABLE[function_code], address, tuple(written), time.monotonic()
            )
            self.writes.append(write)
            for listener in self.on_write:
                listener(write)

    async def set(self, device_id: str, point: str, value: bool | int | float | str) -> None:
        """Make `device_id` report `value` (engineering units, or a state name) for `point`."""
        device = self.node.devices[device_id]
        spec = device.points[point]
        if isinstance(value, str):
            by_name = {name: number for number, name in (spec.states or {}).items()}
            if value not in by_name:
                raise ValueError(f"{device_id}.{point} has no state {value!r}")
            value = by_name[value]
        key = (device_id, spec.table, spec.address)
        words = encode_point(spec, value, self._words.get(key, 0))
        for offset, word in enumerate(words):
            self._words[(device_id, spec.table, spec.address + offset)] = word
        payload: list[int] | list[bool] = [bool(w) for w in words] if spec.table.is_bit else words
        server = self._servers[device.bus]
        await server.async_setValues(device.unit, _FUNCTION_CODE[spec.table], spec.address, payload)
        self.values[(device_id, point)] = value
        if spec.latch and value:
            await self.set(device_id, spec.latch, True)

    async def pulse(self, device_id: str, point: str, seconds: float) -> None:
        """Raise a bool point for `seconds`, e.g. a flow switch that opens briefly."""
        await self.set(device_id, point, True)
        await asyncio.sleep(seconds)
        await self.set(device_id, point, False)
