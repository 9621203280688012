"""The ISA-18.2 life cycle of one alarm: what its condition and its operators may do to its state.

Every change appends a history line; an operator action that the state does not allow raises
`IllegalTransition` with a message the operator can act on, and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, object_session

from cloud import bulk
from cloud.alarms.states import HELD_STATES, AlarmState, IllegalTransition
from cloud.models import AlarmEventRecord, AlarmRecord, utcnow
from sitewatch.siteconfig import Category
from sitewatch.wire import Value

CHANGED = "sitewatch.changed_alarms"  # key in Session.info
PENDING_LINES = "sitewatch.pending_history_lines"  # key in Session.info


def _state(alarm: AlarmRecord) -> AlarmState:
    return AlarmState(alarm.state)


def record(
    alarm: AlarmRecord,
    event: str,
    at: datetime,
    value: Value = None,
    by: str | None = None,
    note: str | None = None,
) -> None:
    session = object_session(alarm)
    if session is None:
        alarm.history.append(
            AlarmEventRecord(event=event, state=alarm.state, value=value, at=at, by=by, note=note)
        )
    else:
        # Not an ORM object each (ingest records thousands a minute, and `alarm.history.append`
        # would load the whole history of a chattering alarm): written in one statement after
        # the session's next flush. Not in `alarm.history` until read again.
        line = {"event": event, "state": alarm.state, "value": value, "at": at, "by": by}
        session.info.setdefault(PENDING_LINES, []).append((alarm, line | {"note": note}))
        session.info.setdefault(CHANGED, set()).add(alarm)
    # Also what makes the alarm dirty: its session flushes before it commits, and the flush
    # writes the pending lines (see write_pending_lines).
    alarm.changed_at = utcnow()


@event.listens_for(Session, "after_flush")
def _write_after_flush(session: Session, _flush_context: object) -> None:
    # After the flush, so that the alarms it inserted have their ids.
    write_pending_lines(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_lines(session: Session, previous: SessionTransaction) -> None:
    # What the transaction recorded did not happen (a savepoint's rollback keeps them).
    if not previous.nested:
        session.info.pop(PENDING_LINES, None)


def write_pending_lines(session: Session) -> None:
    """Write the history lines recorded in bulk and not written yet (a flush also does)."""
    pending = session.info.get(PENDING_LINES)
    if not pending:
        return
    rows = [line | {"alarm_id": alarm.id} for alarm, line in pending]
    pending.clear()
    bulk.insert(session, AlarmEventRecord.__table__, rows)


def changed_alarms(session: Session) -> list[int]:
    """Ids of the alarms this session changed (after a flush), for the live console."""
    return sorted(alarm.id for alarm in session.info.get(CHANGED, ()) if alarm.id is not None)


def latches(alarm: AlarmRecord) -> bool:
    """Fire alarms latch until an operator resets them (NFPA 72, GB 25506)."""
    return alarm.category == Category.FIRE.value


def _describe(alarm: AlarmRecord) -> str:
    return AlarmState(alarm.state).value.replace("_", " ")


# -- the condition ----------------------------------------------------------------------------


def set_active(alarm: AlarmRecord, active: bool, value: Value, at: datetime) -> None:
    """The condition (after its delays) became active or inactive at `at`."""
    if active == alarm.active:
        alarm.value = value
        return
    alarm.active, alarm.value = active, value
    state = _state(alarm)
    if active:
        alarm.cleared_at = None
        if state is AlarmState.NORMAL or state in HELD_STATES:
            alarm.raised_at, alarm.latched = at, latches(alarm)
            alarm.acked_by = alarm.acked_at = None
            if state is AlarmState.NORMAL:
                alarm.state = AlarmState.UNACKNOWLEDGED.value
            record(alarm, "raised", at, value)
        else:
            # Back before anyone closed it (a latched fire alarm, or one awaiting its ack): it
            # needs the operator again.
            alarm.state = AlarmState.UNACKNOWLEDGED.value
            alarm.acked_by = alarm.acked_at = None
            record(alarm, "returned", at, value)
        return
    alarm.cleared_at = at
    if state is AlarmState.UNACKNOWLEDGED and not alarm.latched:
        alarm.state = AlarmState.RTN_UNACKNOWLEDGED.value
    elif state is AlarmState.ACKNOWLEDGED and not alarm.latched:
        alarm.state = AlarmState.NORMAL.value
    record(alarm, "cleared", at, value)  # a latched or held alarm keeps its state


def release(alarm: AlarmRecord, at: datetime) -> None:
    """A hold (shelving, suppression, out of service) ended: the alarm is what its condition is.
    One whose condition persists fires again, as a new occurrence."""
    alarm.shelved_until = alarm.shelved_by = alarm.shelve_reason = None
    if alarm.active:
        alarm.state, alarm.raised_at = AlarmState.UNACKNOWLEDGED.value, at
        alarm.latched, alarm.acked_by, alarm.acked_at = latches(alarm), None, None
        record(alarm, "raised", at, alarm.value, note="condition still active after the hold")
    else:
        alarm.state, alarm.latched = AlarmState.NORMAL.value, False


# -- operator actions -------------------------------------------------------------------------


def acknowledge(alarm: AlarmRecord, by: str, at: datetime, note: str | None = None) -> None:
    state = _state(alarm)
    if state is AlarmState.UNACKNOWLEDGED:
        alarm.state = AlarmState.ACKNOWLEDGED.value
    elif state is AlarmState.RTN_UNACKNOWLEDGED:
        alarm.state = AlarmState.NORMAL.value
    elif state is AlarmState.ACKNOWLEDGED:
        raise IllegalTransition(
            f"already acknowledged by {alarm.acked_by} at {alarm.acked_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    else:
        raise IllegalTransition(f"the alarm is {_describe(alarm)}: there is nothing to acknowledge")
    alarm.acked_by, alarm.acked_at = by, at
    record(alarm, "acknowledged", at, by=by, note=note)


def comment(alarm: AlarmRecord, by: str, at: datetime, note: str) -> None:
    if not note.strip():
        raise IllegalTransition("a comment needs some text")
    record(alarm, "commented", at, by=by, note=note)


def reset(alarm: AlarmRecord, by: str, at: datetime, note: str | None = None) -> None:
    if not alarm.latched:
        raise IllegalTransition(
            "only a latched (fire) alarm is reset; this one returns to normal by itself"
        )
    if alarm.active:
        raise IllegalTransition(
            f"reset refused: the condition is still active (value {alarm.value!r}); "
            "reset it once the cause is cleared"
        )
    if _state(alarm) is not AlarmState.ACKNOWLEDGED:
        raise IllegalTransition(f"the alarm is {_describe(alarm)}: acknowledge it before resetting")
    alarm.state, alarm.latched = AlarmState.NORMAL.value, False
    record(alarm, "reset", at, by=by, note=note)


def shelve(alarm: AlarmRecord, by: str, at: datetime, until: datetime, reason: str) -> None:
    if alarm.category == Category.FIRE.value:
        raise IllegalTransition(
            "fire alarms cannot be shelved; tag the equipment out of service if it is under "
            "maintenance"
        )
    if not reason.strip():
        raise IllegalTransition("shelving needs a reason")
    if until <= at:
        raise IllegalTransition("shelving needs a duration")
    if _state(alarm) in HELD_STATES:
        raise IllegalTransition(f"the alarm is already {_describe(alarm)}")
    alarm.state = AlarmState.SHELVED.value
    alarm.shelved_until, alarm.shelved_by, alarm.shelve_reason = until, by, reason
    record(alarm, "shelved", at, by=by, note=f"{reason} (until {until:%Y-%m-%d %H:%M} UTC)")


def unshelve(alarm: AlarmRecord, by: str | None, at: datetime, note: str | None = None) -> None:
    """By an operator, or by the clock (`by` None) once the shelving time is up."""
    if _state(alarm) is not AlarmState.SHELVED:
        raise IllegalTransition(f"the alarm is {_describe(alarm)}, not shelved")
    alarm.state = AlarmState.NORMAL.value  # for the history line; release sets the real one
    record(alarm, "unshelved", at, by=by, note=note or (None if by else "shelving time is up"))
    release(alarm, at)


def suppress(alarm: AlarmRecord, at: datetime, why: str) -> bool:
    """Suppression by design (e.g. a pump test window); False if the alarm is held already."""
    if _state(alarm) in HELD_STATES:
        return False
    alarm.state = AlarmState.SUPPRESSED.value
    record(alarm, "suppressed", at, note=why)
    return True


def unsuppress(alarm: AlarmRecord, at: datetime, why: str) -> None:
    if _state(alarm) is not AlarmState.SUPPRESSED:
        return
    alarm.state = AlarmState.NORMAL.value
    record(alarm, "unsuppressed", at, note=why)
    release(alarm, at)


def remove_from_service(alarm: AlarmRecord, by: str, at: datetime, reason: str) -> None:
    if _state(alarm) is AlarmState.OUT_OF_SERVICE:
        raise IllegalTransition("the alarm is already out of service")
    alarm.state = AlarmState.OUT_OF_SERVICE.value
    alarm.shelved_until = alarm.shelved_by = alarm.shelve_reason = None
    record(alarm, "out_of_service", at, by=by, note=reason)


def return_to_service(alarm: AlarmRecord, by: str, at: datetime, note: str | None = None) -> None:
    if _state(alarm) is not AlarmState.OUT_OF_SERVICE:
        raise IllegalTransition(f"the alarm is {_describe(alarm)}, not out of service")
    alarm.state = AlarmState.NORMAL.value
    record(alarm, "returned_to_service", at, by=by, note=note)
    release(alarm, at)
