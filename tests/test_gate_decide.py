"""The gate's local decision, path by path, with the clock passed in: every reason, every
anti-passback mode, emergency cards, lane permissions and validity windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from edge.gate.book import CardBook
from edge.gate.decide import Decision, Presence, decide
from sitewatch.parkingconfig import AntiPassback, AntiPassbackMode
from sitewatch.wire import CardEntry, CardList, CardStatus, CardType, GateReason

T0 = 1_780_000_000_000  # a fixed instant, UTC ms
MIN = 60_000
HARD = AntiPassback(mode=AntiPassbackMode.HARD)
SOFT = AntiPassback(mode=AntiPassbackMode.SOFT)
OFF = AntiPassback(mode=AntiPassbackMode.OFF)
TIMED = AntiPassback(mode=AntiPassbackMode.TIMED, timed_min=10)
ALLOWED = Decision(allowed=True, reason=GateReason.VALID)


def card(**changes: object) -> CardEntry:
    fields: dict[str, object] = {
        "card": "0A00BC614E",
        "type": CardType.RESIDENT,
        "status": CardStatus.ACTIVE,
    }
    return CardEntry.model_validate(fields | changes)


def inside(at: int = T0 - MIN, lane: str = "lane-in") -> Presence:
    return Presence("in", lane, at)


def outside(at: int = T0 - MIN, lane: str = "lane-out") -> Presence:
    return Presence("out", lane, at)


def test_an_active_card_with_no_history_enters() -> None:
    assert decide(card(), "lane-in", "in", HARD, None, T0) == ALLOWED


def test_an_unknown_card_is_denied_as_unknown() -> None:
    assert decide(None, "lane-in", "in", OFF, None, T0) == Decision(False, GateReason.UNKNOWN)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (CardStatus.LOST, GateReason.LOST),
        (CardStatus.SUSPENDED, GateReason.SUSPENDED),
        (CardStatus.EXPIRED, GateReason.EXPIRED),
    ],
)
@pytest.mark.parametrize("card_type", list(CardType))
def test_a_blocked_status_is_denied_with_its_reason_whatever_the_type(
    status: CardStatus, reason: GateReason, card_type: CardType
) -> None:
    # Emergency included: a stolen police card reported lost is blocked like any other.
    entry = card(status=status, type=card_type)
    assert decide(entry, "lane-in", "in", OFF, None, T0) == Decision(False, reason)


class TestValidityWindow:
    """`[valid_from, valid_until)`: a renovation pass (出入证) is good for its window only."""

    window: ClassVar[dict[str, Any]] = {
        "type": CardType.TEMPORARY,
        "valid_from": T0,
        "valid_until": T0 + 90 * 24 * 60 * MIN,
    }

    def test_inside_the_window_it_passes(self) -> None:
        assert decide(card(**self.window), "lane-in", "in", HARD, None, T0) == ALLOWED
        last_ms = self.window["valid_until"] - 1
        assert decide(card(**self.window), "lane-in", "in", HARD, None, last_ms) == ALLOWED

    def test_before_it_starts_it_is_outside_validity(self) -> None:
        decision = decide(card(**self.window), "lane-in", "in", HARD, None, T0 - 1)
        assert decision == Decision(False, GateReason.OUTSIDE_VALIDITY)

    def test_from_its_end_on_it_is_expired(self) -> None:
        end = self.window["valid_until"]
        for now in (end, end + MIN):
            decision = decide(card(**self.window), "lane-in", "in", HARD, None, now)
            assert decision == Decision(False, GateReason.EXPIRED)

    def test_open_ended_windows(self) -> None:
        assert decide(card(valid_from=T0), "lane-in", "in", HARD, None, T0 + 10**9) == ALLOWED
        assert decide(card(valid_until=T0), "lane-in", "in", HARD, None, T0 - 10**9) == ALLOWED

    def test_an_emergency_card_obeys_its_window_too(self) -> None:
        entry = card(type=CardType.EMERGENCY, valid_until=T0)
        assert decide(entry, "lane-in", "in", OFF, None, T0) == Decision(False, GateReason.EXPIRED)


class TestLanes:
    def test_a_card_for_other_lanes_has_no_permission_here(self) -> None:
        entry = card(lanes=["lane-out", "north-in"])
        decision = decide(entry, "lane-in", "in", OFF, None, T0)
        assert decision == Decision(False, GateReason.NO_PERMISSION)

    def test_a_card_naming_this_lane_passes(self) -> None:
        assert decide(card(lanes=["lane-in"]), "lane-in", "in", HARD, None, T0) == ALLOWED

    def test_an_empty_lane_list_permits_no_lane(self) -> None:
        decision = decide(card(lanes=[]), "lane-in", "in", OFF, None, T0)
        assert decision == Decision(False, GateReason.NO_PERMISSION)


class TestEmergency:
    emergency: ClassVar[dict[str, Any]] = {"type": CardType.EMERGENCY, "lanes": ["elsewhere"]}

    @pytest.mark.parametrize("rule", [HARD, SOFT, TIMED, OFF])
    def test_passes_whatever_the_lanes_and_anti_passback(self, rule: AntiPassback) -> None:
        # In twice in a row, on a lane its list does not name: a fire engine still goes in.
        decision = decide(card(**self.emergency), "lane-in", "in", rule, inside(T0 - 1), T0)
        assert decision == Decision(True, GateReason.EMERGENCY)

    def test_suspended_emergency_card_is_denied(self) -> None:
        entry = card(**self.emergency, status=CardStatus.SUSPENDED)
        assert decide(entry, "lane-in", "in", OFF, None, T0) == Decision(
            False, GateReason.SUSPENDED
        )


class TestAntiPassback:
    @pytest.mark.parametrize("rule", [HARD, SOFT, TIMED, OFF])
    def test_alternating_in_and_out_is_never_a_violation(self, rule: AntiPassback) -> None:
        assert decide(card(), "lane-in", "in", rule, outside(T0 - 1), T0) == ALLOWED
        assert decide(card(), "lane-out", "out", rule, inside(T0 - 1), T0) == ALLOWED

    @pytest.mark.parametrize("rule", [HARD, SOFT, TIMED, OFF])
    def test_a_first_exit_with_no_history_is_not_a_violation(self, rule: AntiPassback) -> None:
        # The list may arrive while the car is inside: unknown presence is given the benefit.
        assert decide(card(), "lane-out", "out", rule, None, T0) == ALLOWED

    @pytest.mark.parametrize(
        ("lane", "direction", "before"), [("lane-in", "in", inside), ("lane-out", "out", outside)]
    )
    def test_hard_denies_entering_twice_and_exiting_twice(
        self, lane: str, direction: str, before: object
    ) -> None:
        presence = before(T0 - 24 * 60 * MIN)  # type: ignore[operator]
        decision = decide(card(), lane, direction, HARD, presence, T0)  # type: ignore[arg-type]
        assert decision == Decision(False, GateReason.ANTI_PASSBACK)

    def test_hard_counts_presence_from_any_lane_of_the_node(self) -> None:
        presence = inside(lane="north-in")
        decision = decide(card(), "lane-in", "in", HARD, presence, T0)
        assert decision == Decision(False, GateReason.ANTI_PASSBACK)

    def test_soft_lets_through_and_flags_the_violation(self) -> None:
        decision = decide(card(), "lane-in", "in", SOFT, inside(), T0)
        assert decision == Decision(True, GateReason.VALID, violation=True)
        decision = decide(card(), "lane-out", "out", SOFT, outside(), T0)
        assert decision == Decision(True, GateReason.VALID, violation=True)

    def test_off_ignores_repeats(self) -> None:
        assert decide(card(), "lane-in", "in", OFF, inside(T0), T0) == ALLOWED

    def test_timed_re_allows_exactly_timed_min_after_the_last_pass_that_way(self) -> None:
        last = inside(T0)
        wait_ms = 10 * MIN
        for now in (T0, T0 + MIN, T0 + wait_ms - 1):
            decision = decide(card(), "lane-in", "in", TIMED, last, now)
            assert decision == Decision(False, GateReason.ANTI_PASSBACK), now - T0
        assert decide(card(), "lane-in", "in", TIMED, last, T0 + wait_ms) == ALLOWED
        assert decide(card(), "lane-in", "in", TIMED, last, T0 + wait_ms + 1) == ALLOWED

    def test_timed_with_fractional_minutes(self) -> None:
        rule = AntiPassback(mode=AntiPassbackMode.TIMED, timed_min=0.5)
        last = outside(T0)
        assert not decide(card(), "lane-out", "out", rule, last, T0 + 29_999).allowed
        assert decide(card(), "lane-out", "out", rule, last, T0 + 30_000) == ALLOWED

    def test_anti_passback_is_checked_after_permission_and_status(self) -> None:
        lost = card(status=CardStatus.LOST)
        assert decide(lost, "lane-in", "in", HARD, inside(), T0).reason is GateReason.LOST
        other_lane = card(lanes=["lane-out"])
        reason = decide(other_lane, "lane-in", "in", HARD, inside(), T0).reason
        assert reason is GateReason.NO_PERMISSION


class TestCardBook:
    """The persisted list: only a higher version replaces it, and presence survives a restart."""

    async def test_a_higher_version_replaces_the_list_and_an_older_one_is_ignored(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "cards.db"
        with CardBook(path) as book:
            assert book.version is None and book.lookup("0A00BC614E") is None
            v2 = CardList(site="s", node="n", version=2, cards=[card()], ts=T0)
            assert await book.load(v2)
            assert await book.load(v2) is False  # the retained copy again, on a reconnect
            old = CardList(site="s", node="n", version=1, cards=[], ts=T0)
            assert await book.load(old) is False
            assert book.version == 2 and book.lookup("0A00BC614E") == card()
            book.record("0A00BC614E", inside(T0))
        with CardBook(path) as book:
            assert book.version == 2
            assert book.lookup("0A00BC614E") == card()
            assert book.presence["0A00BC614E"] == inside(T0)
            lanes = card(card="CAFE01", lanes=["lane-in"], valid_until=T0)
            v3 = CardList(site="s", node="n", version=3, cards=[lanes], ts=T0)
            assert await book.load(v3)
            assert book.lookup("0A00BC614E") is None
            assert "0A00BC614E" not in book.presence  # a card that left the list is forgotten
        with CardBook(path) as book:
            assert (book.version, list(book.cards.values())) == (3, [lanes])
            assert book.presence == {}
