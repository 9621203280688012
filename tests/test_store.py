"""Applying wire messages to the store: source times, ordering by position, alarm sort order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.alarms import actions
from cloud.api.alarm_views import sort_key
from cloud.models import AlarmEventRecord, AlarmRecord, PointRecord
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site

STREAM = "0123456789abcdef"


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


def _beat(seq: int, **fields: object) -> wire.Event:
    """A heartbeat-only event, e.g. `_beat(2, clock_offset_ms=-7500)`."""
    beat = wire.Heartbeat.model_validate({"ts": 1, **fields})
    return wire.Event(
        site="harbour-view", node="pumproom", stream=STREAM, seq=seq, boot=1, ts=1, items=[beat]
    )


def point(device: str, name: str, value: wire.Value, ts: int) -> wire.PointValue:
    return wire.PointValue(device=device, point=name, value=value, ts=ts)


def apply(sessions: sessionmaker[Session], site: Site, message: wire.Event) -> store.Stored | None:
    with sessions.begin() as session:
        return store.apply_one(session, {site.id: site}, message)


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
        (alarm,) = session.scalars(select(AlarmRecord)).all()
    assert (record.value, record.seq) == (0.6, 5)
    # The low reading is not the pressure now, but it happened, before the newer one: a past
    # occurrence to acknowledge, never an active alarm.
    assert (alarm.active, alarm.state) == (False, "rtn_unacknowledged")
    assert _history(sessions, "supply-pressure")[1] == [("raised", 1000), ("cleared", 2000)]


def _points(sessions: sessionmaker[Session]) -> dict[str, tuple[wire.Value, str, int]]:
    with sessions() as session:
        return {p.point: (p.value, p.quality, p.seq) for p in session.scalars(select(PointRecord))}


def test_values_of_a_new_point_out_of_order_in_one_batch_keep_the_newest(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    with sessions.begin() as session:
        work = WorkingSet(session, sites)
        store.apply(work, sites, event(7, point("supply-pressure", "pressure", 0.6, 2000)))
        store.apply(work, sites, event(4, point("supply-pressure", "pressure", 0.1, 1000)))
        work.flush()
    assert _points(sessions) == {"pressure": (0.6, "good", 7)}
    assert _history(sessions, "supply-pressure") == (
        "rtn_unacknowledged",
        [("raised", 1000), ("cleared", 2000)],
    )


def test_a_lost_link_keeps_the_values_but_marks_them_stale_until_data_comes_again(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    apply(sessions, example_site, _birth(1, 1, point("supply-pressure", "pressure", 0.6, 1)))
    death = wire.Death(site="harbour-view", node="pumproom", stream=STREAM, boot=1, ts=2)
    with sessions.begin() as session:
        store.apply_one(session, sites, death)
    assert _points(sessions) == {"pressure": (0.6, "stale", 1)}
    # A death and the next birth in one batch: the birth's values are what stays.
    with sessions.begin() as session:
        work = WorkingSet(session, sites)
        store.apply(work, sites, _birth(2, 2, point("supply-pressure", "pressure", 0.7, 3)))
        store.apply(work, sites, death.model_copy(update={"boot": 2}))
        store.apply(work, sites, _birth(3, 3, point("supply-pressure", "pressure", 0.8, 4)))
        work.flush()
    assert _points(sessions) == {"pressure": (0.8, "good", 3)}


def _lines(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, wire.Value]]:
    with sessions() as session:
        query = (
            select(AlarmRecord.point, AlarmEventRecord.event, AlarmEventRecord.value)
            .join(AlarmEventRecord.alarm)
            .order_by(AlarmEventRecord.id)
        )
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_history_lines_of_a_batch_are_written_with_their_values_also_after_its_flush(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    sites = {example_site.id: example_site}
    death = wire.Death(site="harbour-view", node="pumproom", stream=STREAM, boot=1, ts=9)
    with sessions.begin() as session:
        work = WorkingSet(session, sites)
        store.apply(work, sites, _birth(1, 1))
        store.apply(work, sites, event(2, point("pumproom-leak", "zone1", True, 2)))
        store.apply(work, sites, event(3, point("supply-pressure", "pressure", 0.3, 3)))
        work.flush()
        # Recorded after the batch's flush: the commit's flush writes them.
        store.apply(work, sites, event(4, point("pumproom-leak", "zone1", False, 4)))
        store.apply(work, sites, death)
    assert _lines(sessions) == [
        ("zone1", "raised", True),
        ("pressure", "raised", 0.3),
        ("zone1", "cleared", False),
        ("(link)", "raised", "node stopped or connection lost (death)"),
    ]


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


def _birth(seq: int, boot: int, *points: wire.PointValue, stream: str = STREAM) -> wire.Birth:
    return wire.Birth(
        site="harbour-view",
        node="pumproom",
        stream=stream,
        seq=seq,
        boot=boot,
        ts=1,
        software="t",
        config_hash="h",
        points=list(points),
    )


def _alarms(sessions: sessionmaker[Session], point_name: str) -> list[AlarmRecord]:
    with sessions() as session:
        return list(session.scalars(select(AlarmRecord).where(AlarmRecord.point == point_name)))


def test_a_latched_pulse_in_one_message_raises_and_clears(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(
        sessions,
        example_site,
        event(
            1,
            point("valve-station-1", "waterflow", True, 1000),
            point("valve-station-1", "waterflow", False, 1001),
        ),
    )
    (alarm,) = _alarms(sessions, "waterflow")
    # A fire alarm latches: the flow stopped, but the operator must still see and reset it.
    assert (alarm.active, alarm.latched, alarm.state) == (False, True, "unacknowledged")
    with sessions() as session:
        record = session.scalars(select(PointRecord).where(PointRecord.point == "waterflow")).one()
    assert record.value is False


def test_changes_made_during_an_outage_raise_and_clear_before_the_birth(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    # The edge replays in seq order after reconnecting; the birth of the new connection is last.
    apply(sessions, example_site, event(10, point("pumproom-leak", "zone2", True, 1000)))
    apply(sessions, example_site, event(12, point("pumproom-leak", "zone2", False, 2000)))
    apply(sessions, example_site, _birth(15, 2, point("pumproom-leak", "zone2", False, 3000)))
    with sessions() as session:
        alarm = session.scalars(select(AlarmRecord).where(AlarmRecord.point == "zone2")).one()
        assert [e.event for e in alarm.history] == ["raised", "cleared"]


def test_a_resent_old_birth_does_not_move_the_boot_back(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    from cloud.models import NodeRecord

    apply(sessions, example_site, _birth(20, 5))
    apply(sessions, example_site, _birth(3, 4))  # re-sent after the confirmation timeout
    with sessions() as session:
        node = session.scalars(select(NodeRecord)).one()
    assert node.boot == 5
    # The death of boot 5 (the current connection) takes the node down with a link trouble.
    death = wire.Death(site="harbour-view", node="pumproom", stream=STREAM, boot=5, ts=1)
    with sessions.begin() as session:
        store.apply_one(session, {example_site.id: example_site}, death)
    (link,) = _alarms(sessions, "(link)")
    assert (link.category, link.active, link.value) == (
        "trouble",
        True,
        "node stopped or connection lost (death)",
    )
    # Data again clears it.
    apply(sessions, example_site, _birth(21, 6))
    (link,) = _alarms(sessions, "(link)")
    assert link.active is False


def test_a_silent_node_gets_a_link_trouble_within_100_s(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    from datetime import timedelta

    from cloud.models import NodeRecord

    apply(sessions, example_site, _birth(1, 1))
    with sessions() as session:
        seen = session.scalars(select(NodeRecord)).one().last_seen
    heartbeat = example_site.nodes["pumproom"].heartbeat_s
    assert store.silence_limit_s(heartbeat) <= 90
    with sessions.begin() as session:
        assert (
            store.supervise(session, {example_site.id: example_site}, seen + timedelta(seconds=60))
            == []
        )
    with sessions.begin() as session:
        lost = store.supervise(
            session, {example_site.id: example_site}, seen + timedelta(seconds=95)
        )
    assert lost == ["harbour-view/pumproom"]
    (link,) = _alarms(sessions, "(link)")
    assert link.active and link.value.startswith("silent for 95 s")
    with sessions() as session:
        qualities = {p.quality for p in session.scalars(select(PointRecord))}
    assert qualities <= {"stale"}


def test_a_clock_off_by_more_than_5_s_is_a_trouble(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, _beat(1, clock_offset_ms=4_000))
    assert _alarms(sessions, "(link)") == []
    apply(sessions, example_site, _beat(2, clock_offset_ms=-7_500))
    (clock,) = _alarms(sessions, "(link)")
    assert (clock.condition, clock.active, clock.value) == ("clock", True, -7500)
    apply(sessions, example_site, _beat(3, clock_offset_ms=200))
    (clock,) = _alarms(sessions, "(link)")
    assert clock.active is False


def test_an_edge_over_its_disk_budget_is_a_trouble(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, _beat(1, disk_over_budget=False))
    assert _alarms(sessions, "(link)") == []
    apply(sessions, example_site, _beat(2, disk_over_budget=True))
    (disk,) = _alarms(sessions, "(link)")
    assert (disk.condition, disk.category, disk.active) == ("disk", "trouble", True)


def test_a_node_back_without_a_birth_is_asked_for_one(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    from datetime import timedelta

    from cloud.models import NodeRecord

    apply(sessions, example_site, _birth(1, 1))
    with sessions() as session:
        seen = session.scalars(select(NodeRecord)).one().last_seen
    sites = {example_site.id: example_site}
    with sessions.begin() as session:
        store.supervise(session, sites, seen + timedelta(seconds=95))
    stored = apply(sessions, example_site, event(2, point("pumproom-leak", "zone1", False, 5)))
    assert stored is not None and stored.rebirth is True
    again = apply(sessions, example_site, event(3, point("pumproom-leak", "zone1", False, 6)))
    assert again is not None and again.rebirth is False


def test_a_cloud_just_started_does_not_blame_nodes_for_its_own_outage(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    from datetime import timedelta

    from cloud.models import NodeRecord

    apply(sessions, example_site, _birth(1, 1))
    with sessions() as session:
        seen = session.scalars(select(NodeRecord)).one().last_seen
    sites = {example_site.id: example_site}
    started = seen + timedelta(seconds=600)  # the cloud was down for ten minutes
    with sessions.begin() as session:
        assert store.supervise(session, sites, started + timedelta(seconds=30), started) == []
    with sessions.begin() as session:
        lost = store.supervise(session, sites, started + timedelta(seconds=95), started)
    assert lost == ["harbour-view/pumproom"]


def test_a_message_whose_boot_goes_backwards_is_refused(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, _birth(20, 5))
    # The outbox's backlog from boot 4 (written before seq 20) is replayed: accepted.
    replay = wire.Event(
        site="harbour-view",
        node="pumproom",
        stream=STREAM,
        seq=12,
        boot=4,
        ts=1,
        items=[point("pumproom-leak", "zone1", False, 1)],
    )
    assert apply(sessions, example_site, replay) is not None
    # A message after boot 5 began that claims boot 4: forged or corrupted.
    forged = replay.model_copy(update={"seq": 25})
    with pytest.raises(
        store.Rejected, match=r"boot 4 goes backwards: seq 25 .* boot 5 began at seq 20"
    ):
        apply(sessions, example_site, forged)


def _with_rule(site: Site, device_id: str, point_name: str, **rule: object) -> Site:
    """`site` with one point's alarm rule changed, as a reloaded site file would give it."""
    node = site.nodes["pumproom"]
    device = node.devices[device_id]
    spec = device.points[point_name]
    assert spec.alarm is not None
    changed = spec.model_copy(update={"alarm": spec.alarm.model_copy(update=rule)})
    device = replace(device, points={**device.points, point_name: changed})
    node = replace(node, devices={**node.devices, device_id: device})
    return replace(site, nodes={**site.nodes, "pumproom": node})


def test_a_changed_rule_applies_from_the_next_value_in_the_same_process(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    """The engine keeps each point's rule between values; a site loaded again with another
    limit must not be judged by the old one."""
    apply(sessions, example_site, event(1, point("supply-pressure", "pressure", 0.40, 1_000)))
    assert _alarms(sessions, "pressure") == []
    stricter = _with_rule(example_site, "supply-pressure", "pressure", low=0.45)
    apply(sessions, stricter, event(2, point("supply-pressure", "pressure", 0.40, 2_000)))
    [alarm] = _alarms(sessions, "pressure")
    assert (alarm.condition, alarm.active) == ("low", True)


def test_a_rate_alarm_says_how_fast_the_value_may_move(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    site = _with_rule(example_site, "supply-pressure", "pressure", rate_per_min=0.1)
    apply(sessions, site, event(1, point("supply-pressure", "pressure", 0.50, 60_000)))
    apply(sessions, site, event(2, point("supply-pressure", "pressure", 0.90, 120_000)))
    [alarm] = _alarms(sessions, "pressure")
    assert (alarm.condition, alarm.active) == ("rate", True)
    assert alarm.text.endswith("(changing faster than 0.1/min)")


def _history(sessions: sessionmaker[Session], device: str) -> tuple[str, list[tuple[str, int]]]:
    """The device's alarm: its state, and its history as (event, ms of `at`)."""
    with sessions() as session:
        alarm = session.scalars(select(AlarmRecord).where(AlarmRecord.device == device)).one()
        lines = session.scalars(
            select(AlarmEventRecord)
            .where(AlarmEventRecord.alarm_id == alarm.id)
            .order_by(AlarmEventRecord.id)
        )
        return alarm.state, [(line.event, int(line.at.timestamp() * 1000)) for line in lines]


T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    ("device", "name", "after"),
    [
        ("pumproom-leak", "zone1", "rtn_unacknowledged"),
        ("valve-station-1", "waterflow", "unacknowledged"),  # fire: latched until reset
    ],
)
def test_an_activation_stored_after_a_newer_clear_is_recorded_as_an_occurrence(
    sessions: sessionmaker[Session], example_site: Site, device: str, name: str, after: str
) -> None:
    # Two workers: the clear (seq 2) commits first, the activation (seq 1) after it.
    apply(sessions, example_site, event(2, point(device, name, False, T0 + 400)))
    apply(sessions, example_site, event(1, point(device, name, True, T0)))
    # As one worker, storing them in order, would have it.
    assert _history(sessions, device) == (after, [("raised", T0), ("cleared", T0 + 400)])
    with sessions() as session:
        assert session.scalars(select(PointRecord.value)).one() is False  # the newer value


def test_a_late_value_inside_a_recorded_occurrence_adds_nothing(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    leak = "pumproom-leak"
    apply(sessions, example_site, event(1, point(leak, "zone1", True, T0)))
    apply(sessions, example_site, event(3, point(leak, "zone1", False, T0 + 800)))
    apply(sessions, example_site, event(2, point(leak, "zone1", True, T0 + 400)))  # late
    # A late clear while the alarm is on changes nothing either.
    apply(sessions, example_site, event(5, point(leak, "zone1", True, T0 + 1600)))
    apply(sessions, example_site, event(4, point(leak, "zone1", False, T0 + 1200)))  # late
    assert _history(sessions, leak) == (
        "unacknowledged",
        [("raised", T0), ("cleared", T0 + 800), ("returned", T0 + 1600)],
    )


def test_history_lines_of_a_rolled_back_transaction_are_not_written(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    apply(sessions, example_site, event(1, point("pumproom-leak", "zone1", True, T0)))
    with sessions() as session:
        alarm_id = session.scalars(select(AlarmRecord.id)).one()
        actions.acknowledge(session, alarm_id, "王芳", datetime.now(UTC), "undone")
        session.rollback()
        actions.comment(session, alarm_id, "王芳", datetime.now(UTC), "kept")
        session.commit()
    with sessions() as session:
        notes = session.scalars(select(AlarmEventRecord.note).order_by(AlarmEventRecord.id))
        assert list(notes) == [None, "kept"]
