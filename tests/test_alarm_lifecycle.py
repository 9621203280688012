"""Every ISA-18.2 transition of one alarm, the allowed ones and the refused ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.alarms import lifecycle
from cloud.alarms.states import AlarmState, IllegalTransition
from cloud.models import AlarmRecord

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
S = AlarmState


def alarm(category: str = "supervisory", state: S = S.NORMAL, active: bool = False) -> AlarmRecord:
    return AlarmRecord(
        site="s",
        node="n",
        device="d",
        point="p",
        condition="abnormal",
        category=category,
        priority="high",
        text="t",
        state=state.value,
        active=active,
        raw_active=active,
        latched=False,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def events(a: AlarmRecord) -> list[tuple[str, str]]:
    return [(line.event, line.state) for line in a.history]


def raised(category: str = "supervisory") -> AlarmRecord:
    a = alarm(category)
    lifecycle.set_active(a, True, 1, at(0))
    return a


# -- the condition ----------------------------------------------------------------------------


def test_normal_to_unacknowledged_when_the_condition_comes() -> None:
    a = raised()
    assert (a.state, a.active, a.raised_at) == ("unacknowledged", True, at(0))
    assert events(a) == [("raised", "unacknowledged")]


def test_unacknowledged_to_rtn_unacknowledged_when_it_goes_unseen() -> None:
    a = raised()
    lifecycle.set_active(a, False, 0, at(5))
    assert (a.state, a.cleared_at) == ("rtn_unacknowledged", at(5))


def test_rtn_unacknowledged_back_to_unacknowledged_when_it_returns() -> None:
    a = raised()
    lifecycle.set_active(a, False, 0, at(5))
    lifecycle.set_active(a, True, 1, at(6))
    assert a.state == "unacknowledged" and a.cleared_at is None
    assert events(a)[-1] == ("returned", "unacknowledged")


def test_acknowledged_alarm_goes_normal_when_the_condition_clears() -> None:
    a = raised()
    lifecycle.acknowledge(a, "王", at(1))
    assert (a.state, a.acked_by, a.acked_at) == ("acknowledged", "王", at(1))
    lifecycle.set_active(a, False, 0, at(2))
    assert a.state == "normal"


def test_acknowledging_a_returned_to_normal_alarm_closes_it() -> None:
    a = raised()
    lifecycle.set_active(a, False, 0, at(5))
    lifecycle.acknowledge(a, "李", at(6), "checked on site")
    assert a.state == "normal"
    assert a.history[-1].by == "李" and a.history[-1].note == "checked on site"


# -- latching ---------------------------------------------------------------------------------


def test_a_fire_alarm_latches_until_reset() -> None:
    a = raised("fire")
    assert a.latched
    lifecycle.set_active(a, False, 0, at(5))
    assert (a.state, a.active, a.latched) == ("unacknowledged", False, True)
    lifecycle.acknowledge(a, "王", at(6))
    assert a.state == "acknowledged", "acknowledging does not unlatch it"
    lifecycle.reset(a, "王", at(7), "pump room checked")
    assert (a.state, a.latched) == ("normal", False)
    assert events(a)[-1] == ("reset", "normal")


def test_reset_is_refused_while_the_condition_is_still_active() -> None:
    a = raised("fire")
    lifecycle.acknowledge(a, "王", at(1))
    with pytest.raises(IllegalTransition, match="still active"):
        lifecycle.reset(a, "王", at(2))
    assert a.state == "acknowledged"


def test_reset_of_an_unacknowledged_alarm_asks_for_the_acknowledgement_first() -> None:
    a = raised("fire")
    lifecycle.set_active(a, False, 0, at(1))
    with pytest.raises(IllegalTransition, match="acknowledge it before resetting"):
        lifecycle.reset(a, "王", at(2))


def test_a_non_latching_alarm_cannot_be_reset() -> None:
    a = raised()
    with pytest.raises(IllegalTransition, match="only a latched"):
        lifecycle.reset(a, "王", at(1))


def test_a_latched_alarm_whose_condition_returns_needs_the_operator_again() -> None:
    a = raised("fire")
    lifecycle.acknowledge(a, "王", at(1))
    lifecycle.set_active(a, False, 0, at(2))
    lifecycle.set_active(a, True, 1, at(3))
    assert (a.state, a.acked_by) == ("unacknowledged", None)


# -- acknowledge: the refused cases ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (S.ACKNOWLEDGED, "already acknowledged"),
        (S.NORMAL, "nothing to acknowledge"),
        (S.SHELVED, "nothing to acknowledge"),
        (S.SUPPRESSED, "nothing to acknowledge"),
        (S.OUT_OF_SERVICE, "nothing to acknowledge"),
    ],
)
def test_acknowledge_is_refused_where_there_is_nothing_to_acknowledge(
    state: S, message: str
) -> None:
    a = alarm(state=state)
    a.acked_by, a.acked_at = "李", at(0)
    with pytest.raises(IllegalTransition, match=message):
        lifecycle.acknowledge(a, "王", at(1))
    assert a.state == state.value and a.history == []


# -- shelving ---------------------------------------------------------------------------------


def test_shelving_holds_the_alarm_and_unshelving_fires_it_again_if_it_persists() -> None:
    a = raised()
    lifecycle.shelve(a, "王", at(1), at(3601), "sensor being replaced")
    assert (a.state, a.shelved_by, a.shelved_until) == ("shelved", "王", at(3601))
    lifecycle.set_active(a, False, 0, at(10))
    lifecycle.set_active(a, True, 1, at(20))
    assert a.state == "shelved", "changes while shelved are recorded, not annunciated"
    lifecycle.unshelve(a, "王", at(30))
    assert (a.state, a.raised_at, a.shelved_until) == ("unacknowledged", at(30), None)
    assert events(a)[-2:] == [("unshelved", "normal"), ("raised", "unacknowledged")]


def test_an_alarm_that_cleared_while_shelved_unshelves_to_normal() -> None:
    a = raised()
    lifecycle.shelve(a, "王", at(1), at(600), "nuisance")
    lifecycle.set_active(a, False, 0, at(2))
    lifecycle.unshelve(a, None, at(600))
    assert a.state == "normal"
    assert a.history[-1].note == "shelving time is up" and a.history[-1].by is None


def test_fire_alarms_cannot_be_shelved() -> None:
    a = raised("fire")
    with pytest.raises(IllegalTransition, match="fire alarms cannot be shelved"):
        lifecycle.shelve(a, "王", at(1), at(600), "annoying")
    assert a.state == "unacknowledged"


@pytest.mark.parametrize(
    ("until", "reason", "message"),
    [(600, " ", "needs a reason"), (1, "nuisance", "needs a duration")],
)
def test_shelving_needs_a_reason_and_a_duration(until: int, reason: str, message: str) -> None:
    a = raised()
    with pytest.raises(IllegalTransition, match=message):
        lifecycle.shelve(a, "王", at(1), at(until), reason)


@pytest.mark.parametrize("state", [S.SHELVED, S.SUPPRESSED, S.OUT_OF_SERVICE])
def test_a_held_alarm_cannot_be_shelved(state: S) -> None:
    with pytest.raises(IllegalTransition, match="already"):
        lifecycle.shelve(alarm(state=state), "王", at(1), at(600), "x")


def test_unshelving_an_alarm_that_is_not_shelved_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="not shelved"):
        lifecycle.unshelve(raised(), "王", at(1))


# -- suppression by design and out of service ------------------------------------------------


def test_suppression_holds_and_its_end_fires_a_persisting_condition() -> None:
    a = alarm("fire")
    assert lifecycle.suppress(a, at(0), "weekly pump test")
    lifecycle.set_active(a, True, "demand", at(10))
    assert (a.state, a.active) == ("suppressed", True)
    lifecycle.unsuppress(a, at(3600), "window closed")
    assert (a.state, a.latched) == ("unacknowledged", True)


def test_a_test_run_that_ends_inside_the_window_leaves_nothing_to_reset() -> None:
    a = alarm("fire")
    lifecycle.suppress(a, at(0), "weekly pump test")
    lifecycle.set_active(a, True, "demand", at(10))
    lifecycle.set_active(a, False, "off", at(700))
    lifecycle.unsuppress(a, at(3600), "window closed")
    assert (a.state, a.latched) == ("normal", False)


def test_suppression_does_not_override_an_operator_hold() -> None:
    a = alarm(state=S.OUT_OF_SERVICE)
    assert lifecycle.suppress(a, at(0), "weekly pump test") is False
    assert a.state == "out_of_service"


def test_out_of_service_and_back() -> None:
    a = raised()
    lifecycle.remove_from_service(a, "工程部 张", at(1), "pump overhaul")
    assert a.state == "out_of_service"
    assert a.history[-1].by == "工程部 张" and a.history[-1].note == "pump overhaul"
    with pytest.raises(IllegalTransition, match="already out of service"):
        lifecycle.remove_from_service(a, "张", at(2), "again")
    lifecycle.return_to_service(a, "张", at(3))
    assert a.state == "unacknowledged", "still abnormal after the maintenance: it fires again"


def test_returning_to_service_an_alarm_in_service_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="not out of service"):
        lifecycle.return_to_service(raised(), "张", at(1))


def test_a_comment_needs_text_and_is_kept() -> None:
    a = raised()
    with pytest.raises(IllegalTransition, match="needs some text"):
        lifecycle.comment(a, "王", at(1), "  ")
    lifecycle.comment(a, "王", at(2), "通知工程部 engineering called")
    line = a.history[-1]
    assert (line.event, line.note, line.by, a.state) == (
        "commented",
        "通知工程部 engineering called",
        "王",
        "unacknowledged",
    )
