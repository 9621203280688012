"""The reads of an ingest batch look its nodes' rows up by index: a site with thousands of points
and alarms must not be scanned whole for every batch (SQLite scans for a row-value IN list)."""

from __future__ import annotations

from pathlib import Path

from cloud import store
from cloud.db import make_engine, migrate, session_factory
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.query_plans import plans_of


def _event(node: str, stream: str, seq: int, *items: wire.Item) -> wire.Event:
    return wire.Event(
        site="harbour-view", node=node, stream=stream, seq=seq, boot=1, ts=seq, items=list(items)
    )


def test_a_batch_reads_its_nodes_rows_through_indexes_not_table_scans(
    tmp_path: Path, example_site: Site
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sitewatch.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    sites = {example_site.id: example_site}
    leak = wire.PointValue(device="pumproom-leak", point="zone1", value=True, ts=1)
    pressure = wire.PointValue(device="supply-pressure", point="pressure", value=0.2, ts=1)
    garage = wire.PointValue(device="garage-leak", point="zone1", value=True, ts=1)
    offline = wire.DeviceStatus(device="gate-relays", online=False, reason="timeout", ts=1)
    batches = [
        [_event("pumproom", "aaaaaaaa00000001", seq, leak, pressure) for seq in (1, 2)]
        + [_event("gate", "bbbbbbbb00000001", seq, garage, offline) for seq in (1, 2)],
        [
            _event("pumproom", "aaaaaaaa00000001", 3, pressure),
            _event("gate", "bbbbbbbb00000001", 3, wire.Heartbeat(ts=3)),
        ],
    ]
    with plans_of(engine) as plans:
        for batch in batches:  # the second finds every row stored by the first
            with sessions.begin() as session:
                work = WorkingSet(session, sites)
                store.prepare(work, sites, [(m, None) for m in batch])
                for message in batch:
                    store.apply(work, sites, message)
                work.flush()
    engine.dispose()

    tables = ("nodes", "points", "devices", "alarms", "equipment_tags", "messages")
    assert [scan for scan in plans.scanned if scan.startswith(tables)] == []
    assert {"nodes", "points", "devices", "alarms"} <= plans.searched
