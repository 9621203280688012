"""What gate nodes report, stored: each lane decision, and each card list version a gate loaded.

A lost card presented at a gate is a supervisory alarm: someone holds a card its owner reported
lost. Strangers and anti-passback denials are not alarms; the booth sees them on the gate page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cloud.alarms.engine import Condition, Source, set_condition, source_time
from cloud.gates.tables import GateListLoad, GateListStatus, GatePassRecord
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Category, Priority, Site

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
