"""The roles of the people who use Sitewatch, and which roles each part of it admits."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    GUARD = "guard"  # walks patrols, reports incidents
    OPERATOR = "operator"  # the control room: alarms, duty log, handovers
    ENGINEER = "engineer"  # maintenance: equipment tags, pump-room inspections
    PARKING = "parking"  # gate cards and the booth
    MANAGER = "manager"  # reads everything, reports, rosters
    ADMIN = "admin"  # everything, and the accounts


ALL = frozenset(Role)
# Who sees what. An admin passes every check (see `allows`).
CONTROL_ROOM = frozenset({Role.OPERATOR, Role.ENGINEER, Role.MANAGER})
PARKING_STAFF = frozenset({Role.PARKING, Role.OPERATOR, Role.MANAGER})


def allows(allowed: frozenset[Role], held: frozenset[Role]) -> bool:
    """Whether someone holding `held` roles may pass a check that admits `allowed`."""
    return Role.ADMIN in held or bool(allowed & held)
