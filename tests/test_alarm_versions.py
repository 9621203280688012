"""A batch writes the stored alarms it changed in one statement, and still never overwrites an
operator's action made meanwhile: the version of each row is checked (see cloud.alarms.versioned).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cloud import store
from cloud.alarms import actions
from cloud.models import AlarmEventRecord, AlarmRecord
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site

LEAKS = {"pumproom": "pumproom-leak", "gate": "garage-leak"}
STREAMS = {"pumproom": "aaaaaaaa00000001", "gate": "bbbbbbbb00000001"}


def _leak(node: str, seq: int, wet: bool) -> wire.Event:
    value = wire.PointValue(device=LEAKS[node], point="zone1", value=wet, ts=1_000 * seq)
    return wire.Event(
        site="harbour-view",
        node=node,
        stream=STREAMS[node],
        seq=seq,
        boot=1,
        ts=1_000 * seq,
        items=[value],
    )


def _store(work: WorkingSet, sites: dict[str, Site], messages: list[wire.Event]) -> None:
    store.prepare(work, sites, [(m, None) for m in messages])
    for message in messages:
        store.apply(work, sites, message)
    work.flush()


@contextmanager
def _alarm_updates(session: Session) -> Iterator[list[int]]:
    """The UPDATE statements on `alarms` run in the block: the number of rows of each."""
    seen: list[int] = []

    def count(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE ALARMS"):
            seen.append(len(parameters) if executemany else 1)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _alarms(sessions: sessionmaker[Session]) -> dict[str, tuple[str, int]]:
    with sessions() as session:
        rows = session.execute(select(AlarmRecord.node, AlarmRecord.state, AlarmRecord.version))
        return {node: (state, version) for node, state, version in rows}


def _states(sessions: sessionmaker[Session]) -> dict[str, str]:
    return {node: state for node, (state, _) in _alarms(sessions).items()}


def _versions(sessions: sessionmaker[Session]) -> dict[str, int]:
    return {node: version for node, (_, version) in _alarms(sessions).items()}


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(AlarmRecord.node, AlarmEventRecord.event, AlarmEventRecord.state)
            .join(AlarmRecord, AlarmRecord.id == AlarmEventRecord.alarm_id)
            .order_by(AlarmEventRecord.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_stored_alarms_a_batch_changes_are_written_in_one_statement(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    with sessions.begin() as session:
        _store(
            WorkingSet(session, sites), sites, [_leak("pumproom", 1, True), _leak("gate", 1, True)]
        )
    assert _states(sessions) == {"pumproom": "unacknowledged", "gate": "unacknowledged"}
    before = _versions(sessions)

    with sessions.begin() as session, _alarm_updates(session) as updates:
        _store(
            WorkingSet(session, sites),
            sites,
            [_leak("pumproom", 2, False), _leak("gate", 2, False)],
        )
    assert updates == [2], "both alarms in one statement"
    assert _states(sessions) == {"pumproom": "rtn_unacknowledged", "gate": "rtn_unacknowledged"}
    assert _versions(sessions) == {node: version + 1 for node, version in before.items()}
    assert _events(sessions)[2:] == [
        ("pumproom", "cleared", "rtn_unacknowledged"),
        ("gate", "cleared", "rtn_unacknowledged"),
    ]

    # The session knows the version it wrote: an operator's action in it goes through.
    with sessions.begin() as session:
        work = WorkingSet(session, sites)
        _store(work, sites, [_leak("pumproom", 3, True)])
        alarm = work.alarm(("harbour-view", "pumproom", "pumproom-leak", "zone1"), "abnormal")
        assert alarm is not None
        actions.acknowledge(session, alarm.id, "operator", datetime.now(UTC), None)
    assert _states(sessions)["pumproom"] == "acknowledged"
    assert _versions(sessions)["pumproom"] == before["pumproom"] + 3


def test_an_operator_action_committed_during_a_batch_is_not_overwritten(
    pg_sessions: sessionmaker[Session], example_site: Site
) -> None:
    # PostgreSQL only: on SQLite a batch holds the database's write lock from its first
    # statement, so no other transaction can commit during it.
    sessions = pg_sessions
    sites = {example_site.id: example_site}
    with sessions.begin() as session:
        _store(WorkingSet(session, sites), sites, [_leak("pumproom", 1, True)])
    with sessions() as session:
        alarm_id = session.scalars(select(AlarmRecord.id)).one()
    before = _versions(sessions)["pumproom"]

    clear = [_leak("pumproom", 2, False)]
    with pytest.raises(StaleDataError), sessions.begin() as session:
        work = WorkingSet(session, sites)
        store.prepare(work, sites, [(m, None) for m in clear])
        store.apply(work, sites, clear[0])  # the batch has read the alarm, unacknowledged
        with sessions.begin() as operator:
            actions.acknowledge(operator, alarm_id, "operator", datetime.now(UTC), "seen")
        work.flush()
    assert _alarms(sessions) == {"pumproom": ("acknowledged", before + 1)}, "batch wrote nothing"

    # Stored again (as BatchWriter does), the batch reads the acknowledgement and clears it.
    with sessions.begin() as session:
        _store(WorkingSet(session, sites), sites, clear)
    assert _alarms(sessions) == {"pumproom": ("normal", before + 2)}
    assert [line[1:] for line in _events(sessions)] == [
        ("raised", "unacknowledged"),
        ("acknowledged", "acknowledged"),
        ("cleared", "normal"),
    ]
