"""One Modbus bus (a TCP endpoint or an RTU serial line) shared by the devices on it, by unit id."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from drivers.modbus.codec import RegisterSpec, decode_bits, decode_registers, encode_registers
from drivers.modbus.plan import ReadBlock, plan_reads

log = logging.getLogger(__name__)

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

BACKOFF_START_S = 0.5
BACKOFF_CAP_S = 30.0


class DeviceError(Exception):
    """A read or write failed; `reason` says why in words an operator can act on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BusSettings:
    transport: Literal["tcp", "rtu"]
    host: str = "127.0.0.1"
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    timeout_s: float = 1.0

    def describe(self) -> str:
        if self.transport == "tcp":
            return f"modbus+tcp://{self.host}:{self.port}"
        return f"modbus+rtu://{self.serial_port}@{self.baudrate}"


class ModbusBus:
    """Owns the client of one bus; serialises requests on it and reconnects with capped backoff."""

    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0
        self._backoff = BACKOFF_START_S
        self._received = bytearray()  # raw bytes seen since the current request was sent
        if settings.transport == "tcp":
            self._client: AsyncModbusTcpClient | AsyncModbusSerialClient = AsyncModbusTcpClient(
                settings.host,
                port=settings.port,
                timeout=settings.timeout_s,
                retries=0,
                reconnect_delay=0,
                trace_packet=self._trace,
            )
        else:
            self._client = AsyncModbusSerialClient(
                settings.serial_port,
                baudrate=settings.baudrate,
                parity=settings.parity,
                stopbits=settings.stopbits,
                timeout=settings.timeout_s,
                retries=0,
                reconnect_delay=0,
                trace_packet=self._trace,
            )

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self._received.clear()
        else:
            self._received.extend(data)
        return data

    def _no_response_reason(self, unit: int) -> str:
        if self._received:
            shown = bytes(self._received[:16]).hex(" ")
            return f"invalid response from unit {unit} (bad CRC, short or garbled frame: {shown})"
        return f"no response from unit {unit} within {self.settings.timeout_s:g} s"

    async def __aenter__(self) -> ModbusBus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_attempt:
            raise DeviceError(
                f"{self.settings.describe()} not connected; retry in {self._next_attempt - now:.1f} s"
            )
        connected = await self._client.connect()
        if not connected:
            self._next_attempt = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_CAP_S)
            raise DeviceError(f"cannot connect to {self.settings.describe()}")
        self._backoff = BACKOFF_START_S

    async def read(self, unit: int, block: ReadBlock) -> dict[str, bool | int | float]:
        """Read one block from `unit` and decode every spec in it."""
        async with self._lock:
            await self._ensure_connected()
            try:
                response = await self._request(unit, block)
            except ModbusException:
                raise DeviceError(self._no_response_reason(unit)) from None
        self._check(unit, response)
        values: dict[str, bool | int | float] = {}
        if block.table in ("coil", "discrete_input"):
            bits = response.bits
            if len(bits) < block.count:
                raise DeviceError(f"unit {unit} sent {len(bits)} bits, expected {block.count}")
            for spec in block.specs:
                offset = spec.address - block.address
                values[spec.name] = decode_bits(spec, bits[offset : offset + 1])
        else:
            words = response.registers
            if len(words) != block.count:
                raise DeviceError(
                    f"unit {unit} sent {len(words)} registers, expected {block.count} (short frame)"
                )
            for spec in block.specs:
                offset = spec.address - block.address
                try:
                    values[spec.name] = decode_registers(spec, words[offset : offset + spec.width])
                except ValueError as exc:
                    raise DeviceError(f"unit {unit}: {exc}") from None
        return values

    async def _request(self, unit: int, block: ReadBlock):
        client = self._client
        if block.table == "coil":
            return await client.read_coils(block.address, count=block.count, device_id=unit)
        if block.table == "discrete_input":
            return await client.read_discrete_inputs(
                block.address, count=block.count, device_id=unit
            )
        if block.table == "holding_register":
            return await client.read_holding_registers(
                block.address, count=block.count, device_id=unit
            )
        return await client.read_input_registers(block.address, count=block.count, device_id=unit)

    async def write(self, unit: int, spec: RegisterSpec, value: bool | int | float) -> None:
        """Write a coil or holding register, then read it back; DeviceError if it did not take."""
        if spec.table not in ("coil", "holding_register"):
            raise DeviceError(f"{spec.name} is a {spec.table}, which cannot be written")
        (block,) = plan_reads([spec])
        async with self._lock:
            await self._ensure_connected()
            try:
                if spec.table == "coil":
                    response = await self._client.write_coil(
                        spec.address, bool(value), device_id=unit
                    )
                else:
                    current = 0
                    if spec.bit is not None:
                        read = await self._request(unit, block)
                        self._check(unit, read)
                        current = read.registers[0]
                    try:
                        words = encode_registers(spec, value, current)
                    except ValueError as exc:
                        raise DeviceError(str(exc)) from None
                    response = await self._client.write_registers(
                        spec.address, words, device_id=unit
                    )
            except ModbusException:
                raise DeviceError(self._no_response_reason(unit)) from None
        self._check(unit, response)
        readback = (await self.read(unit, block))[spec.name]
        expected = bool(value) if isinstance(readback, bool) else value
        if readback != expected:
            raise DeviceError(
                f"read-back of {spec.name} on unit {unit} gave {readback!r}, expected {expected!r}"
            )

    @staticmethod
    def _check(unit: int, response: object) -> None:
        if isinstance(response, ExceptionResponse) or response.isError():  # type: ignore[attr-defined]
            code = getattr(response, "exception_code", 0)
            name = _EXCEPTION_NAMES.get(code, "unknown exception")
            raise DeviceError(f"unit {unit} answered Modbus exception {code} ({name})")
