"""Write the stored alarms a batch changed in one executemany UPDATE, each checked by its version.

The ORM writes a versioned row one UPDATE at a time (to tell which row went stale): on PostgreSQL
a round trip an alarm, and ingest changes dozens a batch. Here they go out together. If fewer
rows match than were sent, another writer (an operator's action, another worker) changed one
first: the batch fails with StaleDataError, as it would through the ORM, and is stored again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from cloud.models import AlarmRecord

_ALARMS = AlarmRecord.__table__
_FIXED = ("id", "site", "node", "device", "point", "condition", "version")
# Every other column is written whatever changed: one statement shape for every row, so one
# executemany. Writing an unchanged value is harmless, as the version says nobody else wrote.
_WRITTEN = tuple(column.name for column in _ALARMS.c if column.name not in _FIXED)
_UPDATE = (
    update(_ALARMS)
    .where(_ALARMS.c.id == bindparam("k_id"), _ALARMS.c.version == bindparam("k_version"))
    .values({name: bindparam(name) for name in (*_WRITTEN, "version")})
)


def write_changed(session: Session, alarms: Iterable[AlarmRecord]) -> None:
    """Write the changes of these alarms that are stored already; the ORM is then told they are
    written (at their new version). New alarms, and changes to anything but columns (their
    history collection), are left to the session's flush."""
    rows: list[dict[str, Any]] = []
    written: list[tuple[AlarmRecord, list[str], int]] = []
    for alarm in alarms:
        state = inspect(alarm)
        changed = list(state.committed_state)
        if not changed or not state.persistent or not all(k in _ALARMS.c for k in changed):
            continue
        row = {name: getattr(alarm, name) for name in _WRITTEN}
        row["k_id"], row["k_version"], row["version"] = alarm.id, alarm.version, alarm.version + 1
        rows.append(row)
        written.append((alarm, changed, alarm.version + 1))
    if not rows:
        return
    with session.no_autoflush:  # a flush now would write these rows first, through the ORM
        matched = session.execute(_UPDATE, rows).rowcount
    if matched != len(rows):
        raise StaleDataError(
            f"UPDATE statement on table 'alarms' expected to update {len(rows)} row(s); "
            f"{matched} were matched: another writer changed an alarm first"
        )
    for alarm, changed, version in written:
        for key in changed:
            set_committed_value(alarm, key, getattr(alarm, key))
        set_committed_value(alarm, "version", version)
