"""What gate nodes report, stored: each lane decision, and each card list version a gate loaded.

A lost card presented at a gate is a supervisory alarm: someone holds a card its owner reported
lost. Strangers and anti-passback denials are not alarms; the booth sees them on the gate page.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.engine import Condition, Source, set_condition, source_time
from cloud.gates.cards import bump_version, latest_version
from cloud.gates.tables import GateListLoad, GateListStatus, GatePassRecord
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Category, Priority, Site

log = logging.getLogger(__name__)

GATES_NODE = "(gates)"
LOST_CARD = Condition(
    "lost_card", Category.SUPERVISORY, Priority.HIGH, "Lost card presented at a parking gate"
)


def check_pass(site: Site, node: str, item: wire.GatePass) -> str | None:
    """Why this cloud cannot accept the pass, or None."""
    lane = site.parking.lanes.get(item.lane)
    if lane is None or lane.node != node:
        return f"lane {item.lane} is not a parking lane of node {node}"
    return None


def record_pass(work: WorkingSet, site: Site, node: str, item: wire.GatePass) -> None:
    at = source_time(item.ts)
    work.session.add(
        GatePassRecord(
            site=site.id,
            node=node,
            lane=item.lane,
            direction=item.direction,
            reader=item.reader,
            card=item.card,
            card_type=item.card_type.value if item.card_type else None,
            allowed=item.allowed,
            reason=item.reason.value,
            violation=item.violation,
            list_version=item.list_version,
            decide_ms=item.decide_ms,
            relay_confirmed=item.relay_confirmed,
            by=item.by,
            note=item.note,
            at=at,
        )
    )
    if item.reason is wire.GateReason.LOST:
        lane = site.parking.lanes[item.lane]
        source = Source(site.id, GATES_NODE, "(lanes)", item.lane, lane.name, None)
        value = f"card {item.card}"
        set_condition(work, source, LOST_CARD, True, value, at)
        set_condition(work, source, LOST_CARD, False, value, at)  # an event: waits for an ack


def record_list_loaded(
    work: WorkingSet, site: Site, node: str, version: int, at: datetime, count: int | None
) -> None:
    """The gate decides from `version` since `at`; an older report never moves it back."""
    session = work.session
    _catch_up(session, site, node, version)
    status = session.scalar(
        select(GateListStatus).where(GateListStatus.site == site.id, GateListStatus.node == node)
    )
    if status is not None and status.version >= version:
        return
    if status is None:
        status = GateListStatus(site=site.id, node=node, version=version, loaded_at=at)
        session.add(status)
    status.version, status.loaded_at, status.count = version, at, count
    session.add(GateListLoad(site=site.id, node=node, version=version, loaded_at=at))


def on_list_loaded(work: WorkingSet, site: Site, node: str, item: wire.CardListLoaded) -> None:
    record_list_loaded(work, site, node, item.version, source_time(item.ts), item.count)


def _catch_up(session: Session, site: Site, node: str, held: int) -> None:
    """A gate holds a newer list than this database ever made: the database was restored from
    a backup, or replaced. A gate takes only a higher version, so it would keep deciding from
    its old list, and miss every change made since, until the database's versions passed it.
    The database's list is made again at a version above the gate's, and goes out on the next
    tick. A database with no list at all makes none: a wrong or new, empty database must not
    empty the gates' lists."""
    latest = latest_version(session, site.id)
    if not 0 < latest < held:
        return
    version = bump_version(
        session,
        site.id,
        f"gate {node} held v{held}, above this database's v{latest}: the list is sent again",
        above=held,
    )
    log.warning(
        "gate %s/%s holds card list v%d, above this database's v%d (restored or replaced?): "
        "the database's list is sent again as v%d",
        site.id,
        node,
        held,
        latest,
        version,
    )
