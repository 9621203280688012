"""The alarm clock: what changes alarms when no message arrives.

On/off delays that have run out, shelving that has expired, and suppression windows by design
that open or close. Run every second or so by each ingest worker, in its own transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cloud.alarms import lifecycle
from cloud.alarms.engine import suppressed_by
from cloud.alarms.states import AlarmState
from cloud.models import AlarmRecord
from sitewatch.siteconfig import Site


def tick(session: Session, sites: dict[str, Site], now: datetime) -> int:
    """Bring every alarm up to `now`; returns how many changed state."""
    changed = 0
    for alarm in session.scalars(select(AlarmRecord).where(AlarmRecord.due_at <= now)):
        due, alarm.due_at = alarm.due_at, None
        if alarm.raw_active != alarm.active:
            lifecycle.set_active(alarm, alarm.raw_active, alarm.value, due or now)
            changed += 1
    expired = select(AlarmRecord).where(
        AlarmRecord.state == AlarmState.SHELVED.value, AlarmRecord.shelved_until <= now
    )
    for alarm in session.scalars(expired):
        lifecycle.unshelve(alarm, None, now)
        changed += 1
    return changed + _apply_suppressions(session, sites, now)


def _apply_suppressions(session: Session, sites: dict[str, Site], now: datetime) -> int:
    """Hold the alarms a window covers now; let go of those whose window has closed."""
    devices = {(site.id, s.node, s.device) for site in sites.values() for s in site.suppressions}
    candidates = select(AlarmRecord).where(
        AlarmRecord.state.in_([s.value for s in AlarmState if s is not AlarmState.OUT_OF_SERVICE]),
        tuple_(AlarmRecord.site, AlarmRecord.node, AlarmRecord.device).in_(sorted(devices)),
    )
    changed = 0
    for alarm in session.scalars(candidates) if devices else ():
        why = suppressed_by(sites.get(alarm.site), alarm, now)
        suppressed = alarm.state == AlarmState.SUPPRESSED.value
        if why is not None and not suppressed and alarm.state != AlarmState.SHELVED.value:
            changed += lifecycle.suppress(alarm, now, why)
        elif why is None and suppressed:
            lifecycle.unsuppress(alarm, now, "suppression window closed")
            changed += 1
    return changed
