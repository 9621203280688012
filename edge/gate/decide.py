"""The gate's decision on one card read: pure, with the clock passed in, so every path can be
tested at an exact instant and the same code decides online and offline.

Order of the checks, and why:

1. Unknown card → deny `unknown` (a stranger vehicle: the booth registers it).
2. Card status lost / suspended / expired → deny with that reason. This applies to emergency
   cards too: a stolen police card is not a free pass, and blocking it is the whole point of
   reporting it lost.
3. Validity window, `[valid_from, valid_until)` in UTC ms: at or after `valid_until` → deny
   `expired` (the pass ran out; an extension is a new pass); before `valid_from` → deny
   `outside_validity` (not valid yet). Emergency cards obey their window too, if they have one.
4. Emergency / official card → allow `emergency`, whatever the lane list or anti-passback says
   (police, fire and ambulance pass without registration), and the pass is logged like any other.
5. A lane list that does not name this lane → deny `no_permission`.
6. Anti-passback on the card's presence (its last allowed pass at this node): a violation is
   entering twice without exiting, or exiting twice without entering. A card with no presence
   yet (new card, or a list loaded while the car was inside) is never a violation.
   - off: allow;
   - hard: deny `anti_passback`;
   - soft: allow, with `violation` set;
   - timed: deny `anti_passback` until `timed_min` after the last pass in that direction; from
     exactly that moment on, allow (no violation: re-entry after the wait is the rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sitewatch.parkingconfig import AntiPassback, AntiPassbackMode
from sitewatch.wire import CardEntry, CardStatus, CardType, GateReason

Direction = Literal["in", "out"]

_STATUS_REASON = {
    CardStatus.LOST: GateReason.LOST,
    CardStatus.SUSPENDED: GateReason.SUSPENDED,
    CardStatus.EXPIRED: GateReason.EXPIRED,
}


@dataclass(frozen=True)
class Presence:
    """Where a card was last let through at this node: the state anti-passback works on."""

    direction: Direction
    lane: str
    at_ms: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: GateReason
    violation: bool = False


def _deny(reason: GateReason) -> Decision:
    return Decision(allowed=False, reason=reason)


def decide(
    entry: CardEntry | None,
    lane: str,
    direction: Direction,
    rule: AntiPassback,
    presence: Presence | None,
    now_ms: int,
) -> Decision:
    """Allow or deny one read of `entry` (None: not on the list) at `lane` going `direction`."""
    if entry is None:
        return _deny(GateReason.UNKNOWN)
    blocked = _STATUS_REASON.get(entry.status)
    if blocked is not None:
        return _deny(blocked)
    if entry.valid_until is not None and now_ms >= entry.valid_until:
        return _deny(GateReason.EXPIRED)
    if entry.valid_from is not None and now_ms < entry.valid_from:
        return _deny(GateReason.OUTSIDE_VALIDITY)
    if entry.type is CardType.EMERGENCY:
        return Decision(allowed=True, reason=GateReason.EMERGENCY)
    if entry.lanes is not None and lane not in entry.lanes:
        return _deny(GateReason.NO_PERMISSION)
    return _anti_passback(rule, presence, direction, now_ms)


def _anti_passback(
    rule: AntiPassback, presence: Presence | None, direction: Direction, now_ms: int
) -> Decision:
    if presence is None or presence.direction != direction or rule.mode is AntiPassbackMode.OFF:
        return Decision(allowed=True, reason=GateReason.VALID)
    if rule.mode is AntiPassbackMode.SOFT:
        return Decision(allowed=True, reason=GateReason.VALID, violation=True)
    waited_ms = now_ms - presence.at_ms
    if rule.mode is AntiPassbackMode.TIMED and waited_ms >= round(rule.timed_min * 60_000):
        return Decision(allowed=True, reason=GateReason.VALID)
    return _deny(GateReason.ANTI_PASSBACK)
