"""The reads of an ingest batch look its nodes' rows up by index: a site with thousands of points
and alarms must not be scanned whole for every batch (SQLite scans for a row-value IN list)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import event

from cloud import store
from cloud.db import make_engine, migrate, session_factory
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site


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
    reads: list[tuple[str, tuple]] = []

    def keep(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            reads.append((statement, tuple(parameters)))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        for batch in batches:  # the second finds every row stored by the first
            with sessions.begin() as session:
                work = WorkingSet(session, sites)
                store.prepare(work, sites, [(m, None) for m in batch])
                for message in batch:
                    store.apply(work, sites, message)
                work.flush()
    finally:
        event.remove(engine, "before_cursor_execute", keep)

    tables = {"nodes", "points", "devices", "alarms", "equipment_tags", "messages"}
    read_tables = set()
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        for statement, parameters in reads:
            for *_, detail in driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters):
                scanned = re.match(r"SCAN (\w+)", detail)
                assert scanned is None or scanned[1] not in tables, f"{detail}: {statement}"
                if found := re.match(r"SEARCH (\w+)", detail):
                    read_tables.add(found[1])
    engine.dispose()
    assert {"nodes", "points", "devices", "alarms"} <= read_tables
