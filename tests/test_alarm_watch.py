"""The console's process finds alarm changes that other processes (ingest workers) made."""

from __future__ import annotations

from sqlalchemy import Engine

from cloud import store
from cloud.alarms.feed import AlarmFeed
from cloud.alarms.watch import AlarmWatcher
from cloud.db import session_factory
from sitewatch import wire
from sitewatch.siteconfig import Site


def _leak(engine: Engine, site: Site, seq: int, value: bool) -> None:
    """A worker elsewhere stores a leak change (its own engine, as another process would)."""
    ts = wire.now_ms()
    item = wire.PointValue(device="pumproom-leak", point="zone2", value=value, ts=ts)
    message = wire.Event(
        site=site.id, node="pumproom", stream="3a7c43a7c4000001", seq=seq, boot=1, ts=ts,
        items=[item],
    )  # fmt: skip
    with session_factory(engine).begin() as session:
        store.apply_one(session, {site.id: site}, message)


def test_a_change_made_elsewhere_is_found_once_by_its_version(
    db_engine: Engine, example_site: Site
) -> None:
    watcher = AlarmWatcher(session_factory(db_engine), AlarmFeed())
    _leak(db_engine, example_site, 1, True)
    assert watcher.look() == [], "the first look only learns what is there"
    assert watcher.look() == []
    _leak(db_engine, example_site, 2, False)
    (changed,) = watcher.look()
    assert watcher.look() == [], "each version is reported once"
    _leak(db_engine, example_site, 3, True)
    assert watcher.look() == [changed]
