"""Modbus TCP/RTU: register specs, decoding, request planning and a bus that polls devices."""

from drivers.modbus.bus import BusSettings, DeviceError, ModbusBus
from drivers.modbus.codec import (
    RegisterSpec,
    decode_bits,
    decode_registers,
    encode_registers,
    register_count,
)
from drivers.modbus.plan import ReadBlock, plan_reads

__all__ = [
    "BusSettings",
    "DeviceError",
    "ModbusBus",
    "ReadBlock",
    "RegisterSpec",
    "decode_bits",
    "decode_registers",
    "encode_registers",
    "plan_reads",
    "register_count",
]
