"""Fault injection on a simulated Modbus bus: silence, garbage, bad CRC, short frames, exceptions.

Applied to the bytes a server is about to send (pymodbus's `trace_packet` hook), per unit id, so
one device on a shared bus misbehaves while the others answer normally.
"""

from __future__ import annotations

import os
from enum import StrEnum

from pymodbus.framer.rtu import FramerRTU


class Fault(StrEnum):
    SILENT = "silent"
    GARBAGE = "garbage"
    BAD_CRC = "bad_crc"
    SHORT = "short"
    EXCEPTION = "exception"
    STUCK = "stuck"  # answers normally, but a write does not take (outputs do the opposite)


SERVER_DEVICE_FAILURE = 4


class FaultInjector:
    """`trace_packet` callable for one server; `faults[unit]` says how that unit misbehaves."""

    def __init__(self, rtu: bool) -> None:
        self.rtu = rtu
        self.faults: dict[int, Fault] = {}

    def _unit(self, frame: bytes) -> int | None:
        if self.rtu:
            return frame[0] if frame else None
        return frame[6] if len(frame) > 7 else None

    def __call__(self, sending: bool, frame: bytes) -> bytes:
        if not sending:
            return frame
        unit = self._unit(frame)
        fault = self.faults.get(unit) if unit is not None else None
        if fault is None:
            return frame
        if fault is Fault.SILENT:
            return b""
        if fault is Fault.GARBAGE:
            return os.urandom(len(frame))
        if fault is Fault.SHORT:
            return frame[: max(2, len(frame) // 2)]
        if fault is Fault.BAD_CRC:
            if not self.rtu:
                return os.urandom(len(frame))  # TCP has no CRC; corrupt the frame instead
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        return self._exception(frame)

    def _exception(self, frame: bytes) -> bytes:
        if self.rtu:
            pdu = bytes([frame[0], frame[1] | 0x80, SERVER_DEVICE_FAILURE])
            return pdu + FramerRTU.compute_CRC(pdu).to_bytes(2, "big")
        # MBAP: transaction id and protocol id kept, length 3, unit, then the exception PDU.
        return (
            frame[:4]
            + (3).to_bytes(2, "big")
            + bytes([frame[6], frame[7] | 0x80, SERVER_DEVICE_FAILURE])
        )
