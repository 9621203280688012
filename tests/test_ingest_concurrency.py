"""Two ingest transactions at once on PostgreSQL, as two workers run them: new nodes.

A batch that meets a node for the first time stores the node's row. Two workers meeting the same
new nodes must not fail on each other's rows (a unique violation, or a deadlock when each holds
one node the other wants): the second waits for the first and then goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.models import NodeRecord, StoredMessage
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.chaos import wait_for


def _beat(node: str, stream: str, seq: int) -> wire.Event:
    return wire.Event(
        site="harbour-view",
        node=node,
        stream=stream,
        seq=seq,
        boot=1,
        ts=1_000 + seq,
        items=[wire.Heartbeat(ts=1_000 + seq)],
    )


def _store(work: WorkingSet, sites: dict[str, Site], messages: list[wire.Envelope]) -> None:
    store.prepare(work, sites, [(m, None) for m in messages])
    for message in messages:
        store.apply(work, sites, message)
    work.flush()


def _waiting_on_a_lock(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        waiting = session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_two_writers_meeting_the_same_new_nodes_wait_for_each_other_and_both_store(
    pg_sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    first = [_beat("pumproom", "aaaaaaaa00000001", 1), _beat("gate", "bbbbbbbb00000001", 1)]
    # The second worker meets them in the other order, with messages of its own.
    second = [_beat("gate", "bbbbbbbb00000001", 2), _beat("pumproom", "aaaaaaaa00000001", 2)]
    failures: list[BaseException] = []

    def other_worker() -> None:
        try:
            with pg_sessions.begin() as session:
                _store(WorkingSet(session, sites), sites, second)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with pg_sessions.begin() as session:
        _store(WorkingSet(session, sites), sites, first)
        thread = threading.Thread(target=other_worker)
        thread.start()
        # The other worker must wait for this transaction's new nodes, not go around them.
        wait_for(lambda: _waiting_on_a_lock(pg_sessions), 10, "the second writer waits")
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert failures == [], f"the second writer failed: {failures[0]!r}" if failures else ""
    with pg_sessions() as session:
        nodes = session.scalars(select(NodeRecord.node).order_by(NodeRecord.node)).all()
        stored = session.scalar(select(func.count()).select_from(StoredMessage))
    assert nodes == ["gate", "pumproom"]
    assert stored == 4


@contextmanager
def _pumproom_held_while(
    sessions: sessionmaker[Session], batch: Callable[[], None]
) -> Iterator[None]:
    """Hold pumproom's row and run `batch` in another thread; inside, the batch waits for it.
    On leaving, the row is let go and the batch finishes."""
    with sessions.begin() as session:
        session.execute(text("SELECT 1 FROM nodes WHERE node = 'pumproom' FOR UPDATE"))
        thread = threading.Thread(target=batch)
        thread.start()
        wait_for(lambda: _waiting_on_a_lock(sessions), 10, "the batch waits for pumproom")
        yield
    thread.join(timeout=30)
    assert not thread.is_alive()


def _locked_elsewhere(sessions: sessionmaker[Session], node: str) -> bool:
    with sessions() as session:
        row = session.execute(
            text("SELECT node FROM nodes WHERE node = :node FOR UPDATE SKIP LOCKED"),
            {"node": node},
        ).first()
        session.rollback()
    return row is None


def test_a_batch_locks_its_nodes_in_key_order_whatever_order_the_table_holds_them(
    pg_sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    # Stored in the reverse of key order ("gate" < "pumproom"), so a scan meets pumproom first.
    for node in ("pumproom", "gate"):
        with pg_sessions.begin() as session:
            session.add(NodeRecord(site="harbour-view", node=node, boot=0, online=False))
    loaded = threading.Event()

    def batch() -> None:
        with pg_sessions.begin() as session:
            # The plan PostgreSQL picks for a busy table of many nodes: a scan in the table's
            # order (a tiny table is read through its unique index, in key order by chance).
            session.execute(text("SET LOCAL enable_indexscan = off"))
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
            work = WorkingSet(session, sites)
            work.load([("harbour-view", "pumproom"), ("harbour-view", "gate")], points=False)
            loaded.set()

    with _pumproom_held_while(pg_sessions, batch):
        # Waiting for pumproom, the batch must already hold gate, which comes first: a batch
        # that took them the other way round could hold pumproom while waiting for gate.
        assert _locked_elsewhere(pg_sessions, "gate")
        assert not loaded.is_set()
    assert loaded.is_set()


def _would_wait(sessions: sessionmaker[Session], statement: str, node: str) -> bool:
    """Whether `statement` (about `node`, rolled back) waits for a lock another transaction
    holds."""
    with sessions() as session:
        session.execute(text("SET LOCAL lock_timeout = '200ms'"))
        try:
            session.execute(text(statement), {"node": node})
        except OperationalError:  # lock_timeout: it waited for the holder
            return True
        finally:
            session.rollback()
    return False


def _held_by_another(sessions: sessionmaker[Session], node: str) -> bool:
    """Whether another transaction holds the node, stored or being inserted: ours may not
    insert it without waiting."""
    insert = (
        "INSERT INTO nodes (site, node, online, boot) "
        "VALUES ('harbour-view', :node, false, 0) ON CONFLICT DO NOTHING"
    )
    return _would_wait(sessions, insert, node)


def test_a_batch_takes_new_and_stored_nodes_in_one_pass_in_key_order(
    pg_sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    with pg_sessions.begin() as session:
        session.add(NodeRecord(site="harbour-view", node="pumproom", boot=0, online=False))
    failures: list[BaseException] = []

    def batch() -> None:
        try:
            with pg_sessions.begin() as session:
                messages = [_beat("pumproom", "aaaaaaaa00000001", 1)]
                messages.append(_beat("gate", "bbbbbbbb00000001", 1))  # new, and before it
                _store(WorkingSet(session, sites), sites, messages)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with _pumproom_held_while(pg_sessions, batch):
        # Waiting for pumproom, the batch already holds gate, the new node before it. Taken in
        # two passes (the stored nodes first, then the new ones) it would hold nothing new yet,
        # and could take gate later while another batch waits on it holding pumproom.
        assert _held_by_another(pg_sessions, "gate")
    assert failures == []


def _points_held_by_another(sessions: sessionmaker[Session], node: str) -> bool:
    return _would_wait(sessions, "UPDATE points SET quality = quality WHERE node = :node", node)


def test_link_supervision_takes_a_node_before_its_points_and_looks_again_under_the_lock(
    pg_sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    value = wire.PointValue(device="supply-pressure", point="pressure", value=0.6, ts=1_000)
    birth = wire.Birth(
        site="harbour-view",
        node="pumproom",
        stream="aaaaaaaa00000001",
        seq=1,
        boot=1,
        ts=1_000,
        software="test",
        config_hash="test",
        points=[value],
    )
    with pg_sessions.begin() as session:
        _store(WorkingSet(session, sites), sites, [birth])
    with pg_sessions() as session:
        last_seen = session.scalar(select(NodeRecord.last_seen))
    assert last_seen is not None
    now = last_seen + timedelta(seconds=200)  # silent past its limit, as last read
    results: list[list[str]] = []

    def supervision() -> None:
        with pg_sessions.begin() as session:
            results.append(store.supervise(session, sites, now))

    # An ingest batch holds pumproom, as one storing its messages does.
    with pg_sessions.begin() as batch:
        batch.execute(text("SELECT 1 FROM nodes WHERE node = 'pumproom' FOR UPDATE"))
        thread = threading.Thread(target=supervision)
        thread.start()
        wait_for(lambda: _waiting_on_a_lock(pg_sessions), 10, "supervision waits for pumproom")
        # Waiting for the node, supervision must not hold its points: the batch writes them
        # next, and each would wait for the other.
        assert not _points_held_by_another(pg_sessions, "pumproom")
        # The batch heard from the node a second ago, and commits.
        batch.execute(
            text("UPDATE nodes SET last_seen = :at WHERE node = 'pumproom'"),
            {"at": now - timedelta(seconds=1)},
        )
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert results == [[]], "supervision went by the node's row as it was before the batch"
