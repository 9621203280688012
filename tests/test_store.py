"""Applying wire messages to the store: source times, ordering by position, alarm sort order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.api.alarms import sort_key
from cloud.db import create_schema, make_engine, session_factory
from cloud.models import AlarmRecord, PointRecord
from sitewatch import wire
from sitewatch.siteconfig import Site

STREAM = "0123456789abcdef"


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    return session_factory(engine)


def event(seq: int, *items: wire.PointValue) -> wire.Event:
    return wire.Event(
        site="harbour-view",
        node="pumproom",
        stream=STREAM,
        seq=seq,
        boot=1,
        ts=1,
        items=list(items),
    )


def point(device: str, name: str, value: wire.Value, ts: int) -> wire.PointValue:
    return wire.PointValue(device=device, point=name, value=value, ts=ts)


def apply(sessions: sessionmaker[Session], site: Site, message: wire.Event) -> store.Stored | None:
    with sessions.begin() as session:
        return store.apply(session, {site.id: site}, message)


def test_alarm_times_are_the_source_times_not_arrival(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    raised_ms = 1_700_000_000_123
    apply(sessions, example_site, event(1, point("pumproom-leak", "zone1", True, raised_ms)))
    apply(
        sessions, example_site, event(2, point("pumproom-leak", "zone1", False, raised_ms + 5000))
    )
    with sessions() as session:
        alarm = session.scalars(select(AlarmRecord)).one()
    assert alarm.raised_at == datetime.fromtimestamp(raised_ms / 1000, UTC)
    assert alarm.cleared_at == datetime.fromtimestamp((raised_ms + 5000) / 1000, UTC)


def test_an_older_message_never_overwrites_a_newer_value(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, event(5, point("supply-pressure", "pressure", 0.6, 2000)))
    apply(sessions, example_site, event(3, point("supply-pressure", "pressure", 0.1, 1000)))
    with sessions() as session:
        record = session.scalars(select(PointRecord)).one()
        alarms = session.scalars(select(AlarmRecord)).all()
    assert (record.value, record.seq) == (0.6, 5)
    assert alarms == [], "a stale low reading must not raise an alarm"


def test_a_duplicate_position_is_reported_as_such(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    first = apply(sessions, example_site, event(9, point("pumproom-leak", "zone2", True, 1)))
    again = apply(sessions, example_site, event(9, point("pumproom-leak", "zone2", True, 1)))
    assert first is not None and not first.duplicate
    assert again is not None and again.duplicate


def test_fire_sorts_above_a_critical_trouble_alarm(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, event(1, point("valve-station-1", "waterflow", True, 1000)))
    apply(sessions, example_site, event(2, point("fire-pump-1", "failed_to_start", True, 2000)))
    apply(sessions, example_site, event(3, point("pumproom-leak", "zone1", True, 3000)))
    with sessions() as session:
        ordered = sorted(session.scalars(select(AlarmRecord)), key=sort_key)
    assert [(a.category, a.priority) for a in ordered] == [
        ("fire", "critical"),
        ("supervisory", "high"),
        ("trouble", "critical"),
    ]
