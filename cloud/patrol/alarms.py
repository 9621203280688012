"""The alarms patrol raises in the control room, and what each is about.

Patrol alarms are not about a device, so their source is the patrol itself: node `(patrol)`, the
route as the device, and the checkpoint (or the tour, or the guard) as the point.
"""

from __future__ import annotations

from datetime import datetime

from cloud.alarms.engine import Condition, Source, set_condition
from cloud.working_set import WorkingSet
from sitewatch.siteconfig import Category, Priority, Site

PATROL_NODE = "(patrol)"
TOUR_POINT = "(tour)"
GUARD_POINT = "(guard)"
BADGES_DEVICE = "(badges)"
INCIDENTS_DEVICE = "(incidents)"

_S = Category.SUPERVISORY
MISSED = Condition("missed", _S, Priority.HIGH, "Patrol checkpoint missed")
LATE = Condition("late", _S, Priority.LOW, "Patrol checkpoint reached late")
OUT_OF_ORDER = Condition("out_of_order", _S, Priority.LOW, "Patrol checkpoint out of order")
NOT_STARTED = Condition("not_started", _S, Priority.HIGH, "Scheduled patrol tour not started")
INCOMPLETE = Condition("incomplete", _S, Priority.MEDIUM, "Patrol tour incomplete")
LONE_WORKER = Condition(
    "lone_worker", _S, Priority.CRITICAL, "Guard on tour silent: no tap for too long (lone worker)"
)
UNKNOWN_BADGE = Condition(
    "unknown_badge", _S, Priority.HIGH, "Unknown badge at a patrol checkpoint (lost or lent?)"
)
INCIDENT = Condition("incident", _S, Priority.HIGH, "Major incident reported on patrol")


def checkpoint_source(site: Site, route: str, checkpoint: str) -> Source:
    place = site.patrol.checkpoints[checkpoint]
    reader = site.nodes[place.node].readers[place.reader]
    name = f"{site.patrol.routes[route].name} · {place.name}"
    return Source(site.id, PATROL_NODE, route, checkpoint, name[:120], reader.location)


def route_source(site: Site, route: str, point: str = TOUR_POINT) -> Source:
    return Source(site.id, PATROL_NODE, route, point, site.patrol.routes[route].name, None)


def place_source(site: Site, device: str, checkpoint: str) -> Source:
    """An alarm about a checkpoint whatever the route: a strange badge, an incident."""
    place = site.patrol.checkpoints[checkpoint]
    location = site.nodes[place.node].readers[place.reader].location
    return Source(site.id, PATROL_NODE, device, checkpoint, place.name, location)


def raise_(
    work: WorkingSet, source: Source, condition: Condition, value: str, at: datetime
) -> None:
    set_condition(work, source, condition, True, value, at)


def clear(work: WorkingSet, source: Source, condition: Condition, at: datetime) -> None:
    alarm = work.alarm(source.key, condition.name)
    if alarm is not None and alarm.raw_active:
        set_condition(work, source, condition, False, alarm.value, at)


def pulse(work: WorkingSet, source: Source, condition: Condition, value: str, at: datetime) -> None:
    """Something that happened, not a lasting condition: raised and returned at once, so it waits
    in the console for an operator's acknowledgement."""
    set_condition(work, source, condition, True, value, at)
    set_condition(work, source, condition, False, value, at)
