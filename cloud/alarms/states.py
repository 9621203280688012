"""The ISA-18.2 states an alarm can be in, and which of them still need the operator."""

from __future__ import annotations

from enum import StrEnum


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RTN_UNACKNOWLEDGED = "rtn_unacknowledged"


OPEN_STATES = (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.RTN_UNACKNOWLEDGED)
OPEN_STATE_VALUES = tuple(state.value for state in OPEN_STATES)
