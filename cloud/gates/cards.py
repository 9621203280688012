"""Card records: issue, edit (never the dates), report lost, suspend, reactivate, extend a pass.

Every change is recorded in the card's history and makes a new version of the site's card list,
which the publisher sends to the gates. Refusals raise `CardRefused` with a message for the user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.gates.fields import DATE_FIELDS, EDITABLE, CardFields
from cloud.gates.tables import CardEventRecord, CardListVersion, CardRecord
from sitewatch.siteconfig import Site
from sitewatch.wire import CardStatus, CardType


class CardRefused(ValueError):
    """The change is not allowed; the message says why and what to do instead."""


class CardNotFound(LookupError):
    pass


def bump_version(session: Session, site: str, reason: str, above: int = 0) -> int:
    """A new version of the site's card list, above the latest and above `above`. Two writers
    at once: the unique key refuses one."""
    latest = session.scalar(
        select(func.max(CardListVersion.version)).where(CardListVersion.site == site)
    )
    version = max(latest or 0, above) + 1
    session.add(CardListVersion(site=site, version=version, reason=reason[:200]))
    session.flush()
    return version


def latest_version(session: Session, site: str) -> int:
    found = session.scalar(
        select(func.max(CardListVersion.version)).where(CardListVersion.site == site)
    )
    return found or 0


def _log(session: Session, card: CardRecord, event: str, by: str, **detail: Any) -> None:
    session.add(CardEventRecord(card_id=card.id, event=event, by=by, detail=detail or None))


def get_card(session: Session, site: str, card_id: int) -> CardRecord:
    card = session.get(CardRecord, card_id)
    if card is None or card.site != site:
        raise CardNotFound(f"card record {card_id} does not exist in site {site!r}")
    return card


def live_card(session: Session, site: str, number: str) -> CardRecord | None:
    return session.scalar(
        select(CardRecord).where(
            CardRecord.site == site,
            CardRecord.card == number.upper(),
            CardRecord.status != CardStatus.EXPIRED.value,
        )
    )


def _check_lanes(site: Site, lanes: list[str] | None) -> None:
    unknown = sorted(set(lanes or ()) - set(site.parking.lanes))
    if unknown:
        known = ", ".join(sorted(site.parking.lanes)) or "none"
        raise CardRefused(f"lane(s) {', '.join(unknown)} not configured (lanes: {known})")


def _add(session: Session, site: Site, fields: CardFields, by: str, **extra: Any) -> CardRecord:
    _check_lanes(site, fields.lanes)
    if live_card(session, site.id, fields.card) is not None:
        raise CardRefused(
            f"card {fields.card} is already issued (one card, one car); suspend or expire it first"
        )
    card = CardRecord(
        site=site.id,
        status=CardStatus.ACTIVE.value,
        created_by=by,
        **fields.record_values(site.timezone),
        **extra,
    )
    session.add(card)
    session.flush()
    return card


def issue(session: Session, site: Site, fields: CardFields, by: str) -> CardRecord:
    card = _add(session, site, fields, by)
    _log(session, card, "issued", by)
    bump_version(session, site.id, f"card {card.card} issued")
    return card


def edit(
    session: Session, site: Site, card_id: int, changes: dict[str, Any], by: str
) -> CardRecord:
    """Change holder, unit, plates, lanes or notes. Dates, type and number are never edited."""
    card = get_card(session, site.id, card_id)
    dates = sorted(set(changes) & DATE_FIELDS)
    if dates:
        raise CardRefused(
            f"{', '.join(dates)} of a pass are never edited (切记不能涂改日期，必须重办): "
            "extend the pass, which issues a new one"
        )
    fixed = sorted(set(changes) - EDITABLE)
    if fixed:
        raise CardRefused(f"{', '.join(fixed)} cannot be changed; issue a new card instead")
    if card.status == CardStatus.EXPIRED.value:
        raise CardRefused(f"card record {card_id} is expired; it is kept as it was")
    if "lanes" in changes:
        _check_lanes(site, changes["lanes"])
    for name, value in changes.items():
        setattr(card, name, value)
    _log(session, card, "edited", by, fields=sorted(changes))
    bump_version(session, site.id, f"card {card.card} edited")
    return card


def report_lost(
    session: Session, site: Site, card_id: int, by: str, at: datetime, note: str | None = None
) -> CardRecord:
    card = get_card(session, site.id, card_id)
    if card.status in (CardStatus.LOST.value, CardStatus.EXPIRED.value):
        raise CardRefused(f"card {card.card} is already {card.status}")
    card.status = CardStatus.LOST.value
    card.reported_lost_at, card.reported_lost_by = at, by
    _log(session, card, "reported_lost", by, note=note)
    card.lost_in_version = bump_version(session, site.id, f"card {card.card} reported lost")
    return card


def set_suspended(
    session: Session, site: Site, card_id: int, suspended: bool, by: str, note: str | None = None
) -> CardRecord:
    card = get_card(session, site.id, card_id)
    if suspended and card.status != CardStatus.ACTIVE.value:
        raise CardRefused(
            f"only an active card can be suspended; card {card.card} is {card.status}"
        )
    if not suspended and card.status != CardStatus.SUSPENDED.value:
        hint = " (a lost card stays blocked: issue a new card)" if card.status == "lost" else ""
        raise CardRefused(f"card {card.card} is {card.status}, not suspended{hint}")
    card.status = (CardStatus.SUSPENDED if suspended else CardStatus.ACTIVE).value
    _log(session, card, "suspended" if suspended else "reactivated", by, note=note)
    bump_version(session, site.id, f"card {card.card} {card.status}")
    return card


def extend(
    session: Session,
    site: Site,
    card_id: int,
    until: datetime,
    by: str,
    now: datetime,
    number: str | None = None,
) -> CardRecord:
    """A new pass for the same holder valid from now to `until`; the old one expires."""
    old = get_card(session, site.id, card_id)
    if old.valid_until is None:
        raise CardRefused(f"card {old.card} has no end date; there is nothing to extend")
    if old.status != CardStatus.ACTIVE.value:
        raise CardRefused(f"card {old.card} is {old.status}; only an active pass is extended")
    if until <= max(old.valid_until, now):
        raise CardRefused("the new pass must end after the old one and after now")
    old.status = CardStatus.EXPIRED.value
    session.flush()  # the number is free again for the new pass
    fields = CardFields(
        card=number or old.card,
        holder=old.holder,
        unit=old.unit,
        plates=old.plates,
        type=CardType(old.type),
        valid_from=now,
        valid_until=until,
        lanes=old.lanes,
        notes=old.notes,
    )
    new = _add(session, site, fields, by, replaces_id=old.id)
    _log(session, old, "expired_by_extension", by, new_card_id=new.id)
    _log(session, new, "issued_as_extension", by, replaces=old.id)
    bump_version(session, site.id, f"pass {old.card} extended")
    return new
