"""Live tours with a controllable clock: every verdict, every patrol alarm, lone-worker protection,
reader feedback. Taps go through the store as the edge sends them; the clock is driven by hand."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.patrol.tables import TourStatus
from sitewatch.siteconfig import Site
from tests.patrol_desk import LI, T0, ZHANG, PatrolDesk, minutes, patrol_site


@pytest.fixture
def desk(sessions: sessionmaker[Session], example_site: Site) -> PatrolDesk:
    return PatrolDesk(sessions, patrol_site(example_site))


def test_a_tour_walked_on_time_completes_with_green_feedback_and_no_alarm(desk: PatrolDesk) -> None:
    assert desk.tap("b2", ZHANG, T0 + minutes(1)) == "on_time"
    assert desk.tap("power", ZHANG, T0 + minutes(7)) == "on_time"  # 6 ± 2 after b2
    assert desk.tap("lift", ZHANG, T0 + minutes(15)) == "on_time"  # 8 ± 2 after power
    (tour,) = desk.tours()
    assert (tour.status, tour.guard, tour.scheduled_at) == (TourStatus.COMPLETED, "zhang-wei", T0)
    assert [v.verdict for v in tour.visits] == ["on_time"] * 3
    assert desk.feedback() == [
        ("cp-fire-passage-b2", True), ("cp-power-room", True), ("cp-lift-machine-room", True),
    ]  # fmt: skip
    desk.tick(T0 + minutes(60))
    assert desk.active() == set()


def test_early_and_late_taps_are_judged_against_the_walk_from_the_last_tap(
    desk: PatrolDesk,
) -> None:
    assert desk.tap("b2", ZHANG, T0 - minutes(5)) == "early"  # before the slot, in its window
    assert desk.tap("power", ZHANG, T0 - minutes(2)) == "early"  # 3 min after b2: expected 6 ± 2
    assert desk.tap("lift", ZHANG, T0 + minutes(9)) == "late"  # 11 min after power: 8 ± 2
    (tour,) = desk.tours()
    assert tour.visits[2].late_s == pytest.approx(60)
    (late,) = desk.alarms("late")
    assert (late.point, late.category, late.value) == ("lift", "supervisory", "张伟 Zhang Wei")
    # A late tap still counts: green at the reader. The tour is done, so the alarm has returned
    # and waits for the operator's acknowledgement.
    assert desk.feedback()[-1] == ("cp-lift-machine-room", True)
    assert (late.active, late.state) == (False, "rtn_unacknowledged")


def test_a_skipped_checkpoint_is_out_of_order_then_missed_by_the_clock(desk: PatrolDesk) -> None:
    desk.tap("b2", ZHANG, T0)
    assert desk.tap("lift", ZHANG, T0 + minutes(6)) == "out_of_order"
    assert desk.feedback()[-1] == ("cp-lift-machine-room", False)
    assert ("out_of_order", "lift") in desk.active()
    # power was due 6 ± 2 after b2, plus 3 min grace: missed at T0 + 11 min, not before.
    desk.tick(T0 + minutes(10.9))
    assert ("missed", "power") not in desk.active()
    desk.tick(T0 + minutes(11))
    (tour,) = desk.tours()
    assert [v.verdict for v in tour.visits] == ["on_time", "missed", "out_of_order"]
    assert tour.status == TourStatus.INCOMPLETE
    (missed,) = desk.alarms("missed")
    assert missed.raised_at == T0 + minutes(11)
    assert missed.state == "rtn_unacknowledged"  # raised, and returned when the tour ended
    (incomplete,) = desk.alarms("incomplete")
    assert incomplete.active and "配电房" in incomplete.value


def test_the_next_tour_completed_clears_the_incomplete_alarm(desk: PatrolDesk) -> None:
    desk.tap("b2", ZHANG, T0)
    desk.tick(T0 + minutes(30))  # power and lift missed
    assert ("incomplete", "(tour)") in desk.active()
    later = T0 + minutes(120)
    for checkpoint, after in (("b2", 0), ("power", 6), ("lift", 14)):
        desk.tap(checkpoint, LI, later + minutes(after))
    assert ("incomplete", "(tour)") not in desk.active()
    assert [t.status for t in desk.tours()] == [TourStatus.INCOMPLETE, TourStatus.COMPLETED]
    assert desk.tours()[1].scheduled_at is None  # unscheduled: no slot at 10:00


def test_a_checkpoint_not_on_the_route_gets_red_feedback(desk: PatrolDesk) -> None:
    desk.tap("b2", ZHANG, T0)
    assert desk.tap("pump", ZHANG, T0 + minutes(3)) == "not_on_route"
    assert desk.feedback()[-1] == ("cp-pump-room-door", False)
    # Tapping where no route begins, off tour, is not on any route either.
    assert desk.tap("pump", LI, T0 + minutes(3)) == "not_on_route"
    assert desk.tap("b2", ZHANG, T0 + minutes(4)) == "repeat"
    assert desk.feedback()[-1] == ("cp-fire-passage-b2", True)


def test_an_unknown_badge_is_recorded_and_raises_a_supervisory_alarm(desk: PatrolDesk) -> None:
    assert desk.tap("power", "0BADC0DE", T0) == "unknown_badge"
    assert desk.feedback() == [("cp-power-room", False)]
    (alarm,) = desk.alarms("unknown_badge")
    assert (alarm.point, alarm.category, alarm.value) == ("power", "supervisory", "card 0BADC0DE")
    assert alarm.state == "rtn_unacknowledged"  # an event: it waits for an acknowledgement
    assert desk.tours() == []


def test_a_scheduled_tour_not_started_in_its_window_raises_once(desk: PatrolDesk) -> None:
    desk.tick(T0 + minutes(9.9))
    assert desk.alarms("not_started") == []
    desk.tick(T0 + minutes(10))
    desk.tick(T0 + minutes(11))
    (alarm,) = desk.alarms("not_started")
    assert (alarm.active, alarm.value, alarm.raised_at) == (True, "due 08:00", T0 + minutes(10))
    (slot,) = desk.tours()
    assert (slot.status, slot.scheduled_at) == (TourStatus.NOT_STARTED, T0)
    # A tap after the window is an unscheduled tour; it covers the route, so the alarm returns.
    desk.tap("b2", ZHANG, T0 + minutes(12))
    assert desk.tours()[1].scheduled_at is None
    assert not desk.alarms("not_started")[0].active


def test_a_slot_that_closed_before_the_cloud_watched_is_not_blamed(desk: PatrolDesk) -> None:
    desk.since = T0 + minutes(20)
    desk.tick(T0 + minutes(21))
    assert desk.alarms("not_started") == []


def test_a_silent_guard_raises_lone_worker_before_the_checkpoint_is_missed(
    desk: PatrolDesk,
) -> None:
    desk.tap("b2", ZHANG, T0)
    desk.tick(T0 + minutes(6.9))
    assert desk.active() == set()
    desk.tick(T0 + minutes(7))  # lone_worker_min 7 < walk 6 + tolerance 2 + grace 3
    (lone,) = desk.alarms("lone_worker")
    assert (lone.active, lone.priority, lone.value) == (True, "critical", "张伟 Zhang Wei")
    assert desk.alarms("missed") == []
    desk.tick(T0 + minutes(8))
    assert len(desk.alarms("lone_worker")[0].history) == 1  # raised once, not on every tick
    desk.tap("power", ZHANG, T0 + minutes(8))  # the guard is heard from again
    assert not desk.alarms("lone_worker")[0].active


def test_a_guard_on_tour_cannot_start_a_second_one(desk: PatrolDesk) -> None:
    desk.tap("b2", ZHANG, T0)
    desk.tap("b2", LI, T0 + minutes(1))  # another guard: a tour of their own, unscheduled
    tours = desk.tours()
    assert [(t.guard, t.scheduled_at) for t in tours] == [("zhang-wei", T0), ("li-na", None)]
