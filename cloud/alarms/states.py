"""The ISA-18.2 states an alarm can be in, which of them the console shows, and in what order."""

from __future__ import annotations

from enum import StrEnum


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RTN_UNACKNOWLEDGED = "rtn_unacknowledged"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


# Not annunciated: the condition is still tracked, and is looked at again when the state ends.
HELD_STATES = (AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE)
# Everything but normal is on the console; held alarms stay visible with who held them and why.
OPEN_STATES = tuple(state for state in AlarmState if state is not AlarmState.NORMAL)
OPEN_STATE_VALUES = tuple(state.value for state in OPEN_STATES)
# The console's order: what needs the operator first.
STATE_RANK = {
    AlarmState.UNACKNOWLEDGED: 0,
    AlarmState.RTN_UNACKNOWLEDGED: 1,
    AlarmState.ACKNOWLEDGED: 2,
    AlarmState.SHELVED: 3,
    AlarmState.SUPPRESSED: 4,
    AlarmState.OUT_OF_SERVICE: 5,
    AlarmState.NORMAL: 6,
}


class IllegalTransition(Exception):
    """An operator action that the alarm's state does not allow; the message says why."""
