"""Write the stored alarms a batch changed in one executemany UPDATE, each checked by its version.

The ORM writes a versioned row one UPDATE at a time (to tell which row went stale): on PostgreSQL
a round trip an alarm, and ingest changes dozens a batch. Here they go out together. If fewer
rows match than were sent, another writer (an operator's action, another worker) changed one
first: the batch fails with StaleDataError, as it would through the ORM, and is stored again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Update, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from cloud.models import AlarmRecord

_ALARMS = AlarmRecord.__table__
_COLUMNS = frozenset(_ALARMS.c.keys())


@lru_cache(maxsize=64)
def _update(columns: tuple[str, ...]) -> Update:
    """The UPDATE of these columns (and the version) of one alarm at a version."""
    values = {name: bindparam(name) for name in (*columns, "version")}
    where = (_ALARMS.c.id == bindparam("k_id"), _ALARMS.c.version == bindparam("k_version"))
    return update(_ALARMS).where(*where).values(values)


def write_changed(session: Session, alarms: Iterable[AlarmRecord]) -> None:
    """Write the changes of these alarms that are stored already; the ORM is then told they are
    written (at their new version). New alarms, and changes to anything but columns (their
    history collection), are left to the session's flush."""
    # By the columns changed, as the ORM does: ingest changes the same few on every alarm, so
    # nearly always one statement.
    groups: dict[tuple[str, ...], list[AlarmRecord]] = defaultdict(list)
    for alarm in alarms:
        state = instance_state(alarm)
        changed = state.committed_state
        if changed and state.key is not None and _COLUMNS.issuperset(changed):
            groups[tuple(sorted(changed))].append(alarm)
    for columns, group in groups.items():
        rows = []
        for alarm in group:
            row = {name: getattr(alarm, name) for name in columns}
            row["k_id"], row["k_version"], row["version"] = (
                alarm.id,
                alarm.version,
                alarm.version + 1,
            )
            rows.append(row)
        with session.no_autoflush:  # a flush now would write these rows first, through the ORM
            matched = session.execute(_update(columns), rows).rowcount
        if matched != len(rows):
            raise StaleDataError(
                f"UPDATE statement on table 'alarms' expected to update {len(rows)} row(s); "
                f"{matched} were matched: another writer changed an alarm first"
            )
        for alarm in group:
            set_committed_value(alarm, "version", alarm.version + 1)
            _written(session, alarm)


def _written(session: Session, alarm: AlarmRecord) -> None:
    """Tell the session the alarm is as stored, as its flush does after writing an object.
    Committing each attribute (`set_committed_value`) would leave it among the session's
    modified objects, which every flush then walks: 3% of ingest's instructions."""
    state = instance_state(alarm)
    state._commit_all(state.dict, session.identity_map)  # SQLAlchemy's own post-flush step
