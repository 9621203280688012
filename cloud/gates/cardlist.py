"""The card list a gate node decides from, built from the card records at the latest version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.gates.cards import latest_version
from cloud.gates.tables import CardRecord
from sitewatch import wire
from sitewatch.siteconfig import Site


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def card_list(session: Session, site: Site, node: str) -> wire.CardList | None:
    """The list for one gate node; None before any card was ever issued."""
    version = latest_version(session, site.id)
    if version == 0:
        return None
    entries: dict[str, wire.CardEntry] = {}
    # Newest record last, so a live card wins over the expired passes it replaced, and an
    # expired number still says "expired" at the gate rather than "unknown".
    records = session.scalars(
        select(CardRecord).where(CardRecord.site == site.id).order_by(CardRecord.id)
    )
    for record in records:
        current = entries.get(record.card)
        live = current is not None and current.status is not wire.CardStatus.EXPIRED
        if live and record.status == wire.CardStatus.EXPIRED.value:
            continue
        entries[record.card] = wire.CardEntry(
            card=record.card,
            type=wire.CardType(record.type),
            status=wire.CardStatus(record.status),
            valid_from=_ms(record.valid_from),
            valid_until=_ms(record.valid_until),
            lanes=record.lanes,
        )
    return wire.CardList(
        site=site.id, node=node, version=version, cards=list(entries.values()), ts=wire.now_ms()
    )


def gate_nodes(site: Site) -> list[str]:
    return sorted({lane.node for lane in site.parking.lanes.values()})
