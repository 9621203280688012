"""Gate cards: issue, look up, edit, report lost, suspend, extend, import; and which card list
version each gate runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.card_schemas import (
    CardDetail,
    CardEdit,
    CardEventOut,
    CardListsOut,
    CardOut,
    ExtendBody,
    GateBlock,
    GateListOut,
    ImportOut,
    ImportRowError,
    NoteBody,
    card_out,
)
from cloud.api.deps import IdPath, SessionDep, SiteDep
from cloud.api.operator import OperatorDep
from cloud.api.security import allow
from cloud.auth.roles import PARKING_STAFF, Role
from cloud.gates import cards
from cloud.gates.cardlist import gate_nodes
from cloud.gates.fields import CardFields, in_zone
from cloud.gates.importer import import_cards
from cloud.gates.tables import CardEventRecord, CardRecord, GateListLoad, GateListStatus
from cloud.models import utcnow
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/cards", tags=["cards"])
READ = allow(*PARKING_STAFF)
WRITE = allow(Role.PARKING)
CSV_BODY = {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
T = TypeVar("T")
REFUSED = {404: {"description": "no such card"}, 409: {"description": "refused by the rules"}}


@contextmanager
def _rules() -> Iterator[None]:
    """The card rules' refusals as HTTP errors with their message."""
    try:
        yield
    except cards.CardNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except cards.CardRefused as exc:
        raise HTTPException(409, str(exc)) from None
    except ValidationError as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:
        raise HTTPException(409, "another change to the cards came first; try again") from None


def _change(session: Session, site: Site, do: Callable[[Site], T]) -> T:
    with _rules():
        result = do(site)
        session.commit()
    return result


@router.get("", response_model=list[CardOut], summary="Cards, newest first", **READ)
def list_cards(
    session: SessionDep,
    site: SiteDep,
    status: Annotated[str | None, Query(description="active, suspended, lost, expired")] = None,
    type: Annotated[str | None, Query(description="resident, staff, temporary, ...")] = None,
    q: Annotated[
        str | None, Query(description="card number, holder, unit or plate contains")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[CardOut]:
    query = select(CardRecord).where(CardRecord.site == site.id)
    if status:
        query = query.where(CardRecord.status == status)
    if type:
        query = query.where(CardRecord.type == type)
    found = session.scalars(query.order_by(CardRecord.id.desc()))
    if q:
        # Plates are a JSON list (stored escaped), so the search runs here, not in SQL.
        needle = q.strip().upper()
        found = (  # type: ignore[assignment]
            card
            for card in found
            if any(needle in (text or "").upper() for text in (card.card, card.holder, card.unit))
            or any(needle in plate for plate in card.plates)
        )
    return [card_out(card) for card in islice(found, limit)]


@router.post(
    "", response_model=CardOut, status_code=201, summary="Issue a card", responses=REFUSED, **WRITE
)
def issue_card(
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    body: CardFields,
) -> CardOut:
    return card_out(_change(session, site, lambda s: cards.issue(session, s, body, operator)))


def _blocks(session: Session, site: Site, card: CardRecord) -> list[GateBlock]:
    blocks = []
    for node in gate_nodes(site):
        status = session.scalar(
            select(GateListStatus).where(
                GateListStatus.site == site.id, GateListStatus.node == node
            )
        )
        blocked_at = None
        if card.lost_in_version is not None:
            blocked_at = session.scalar(
                select(GateListLoad.loaded_at)
                .where(
                    GateListLoad.site == site.id,
                    GateListLoad.node == node,
                    GateListLoad.version >= card.lost_in_version,
                )
                .order_by(GateListLoad.loaded_at)
                .limit(1)
            )
        after = None
        if blocked_at is not None and card.reported_lost_at is not None:
            after = (blocked_at - card.reported_lost_at).total_seconds()
        blocks.append(
            GateBlock(
                node=node,
                version=status.version if status else None,
                blocked_at=blocked_at,
                after_s=after,
            )
        )
    return blocks


@router.get("/lists", response_model=CardListsOut, summary="The card list each gate runs", **READ)
def card_lists(
    session: SessionDep,
    site: SiteDep,
) -> CardListsOut:
    version = cards.latest_version(session, site.id)
    gates = []
    for node in gate_nodes(site):
        status = session.scalar(
            select(GateListStatus).where(
                GateListStatus.site == site.id, GateListStatus.node == node
            )
        )
        gates.append(
            GateListOut(
                node=node,
                version=status.version if status else None,
                loaded_at=status.loaded_at if status else None,
                count=status.count if status else None,
                current=status is not None and status.version >= version,
            )
        )
    return CardListsOut(site=site.id, version=version, gates=gates)


@router.get(
    "/{card_id}",
    response_model=CardDetail,
    summary="A card, its history, its block",
    responses=REFUSED,
    **READ,
)
def card_detail(
    session: SessionDep,
    site: SiteDep,
    card_id: IdPath,
) -> CardDetail:
    with _rules():
        card = cards.get_card(session, site.id, card_id)
    history = session.scalars(
        select(CardEventRecord)
        .where(CardEventRecord.card_id == card.id)
        .order_by(CardEventRecord.id)
    )
    return CardDetail(
        **card_out(card).model_dump(),
        history=[CardEventOut.model_validate(e) for e in history],
        gates=_blocks(session, site, card) if card.status == "lost" else [],
    )


@router.patch(
    "/{card_id}",
    response_model=CardOut,
    summary="Edit holder, unit, plates, lanes, notes",
    responses=REFUSED,
    **WRITE,
)
def edit_card(
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    card_id: IdPath,
    body: CardEdit,
) -> CardOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, "nothing to change: give holder, unit, plates, lanes or notes")
    return card_out(
        _change(session, site, lambda s: cards.edit(session, s, card_id, changes, operator))
    )


def _note(body: NoteBody | None) -> str | None:
    return body.note if body is not None else None


@router.post(
    "/{card_id}/lost",
    response_model=CardOut,
    summary="Report a card lost (blocks it at every gate)",
    responses=REFUSED,
    **WRITE,
)
def report_lost(
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    card_id: IdPath,
    body: NoteBody | None = None,
) -> CardOut:
    def lose(s: Site) -> CardRecord:
        return cards.report_lost(session, s, card_id, operator, utcnow(), _note(body))

    return card_out(_change(session, site, lose))


@router.post(
    "/{card_id}/extend",
    response_model=CardOut,
    status_code=201,
    summary="Extend a pass: issues a new pass, expires the old one",
    responses=REFUSED,
    **WRITE,
)
def extend(
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    card_id: IdPath,
    body: ExtendBody,
) -> CardOut:
    def do(site: Site) -> CardRecord:
        until = in_zone(body.valid_until, site.timezone)
        assert until is not None
        number = body.card.upper() if body.card else None
        return cards.extend(session, site, card_id, until, operator, utcnow(), number)

    return card_out(_change(session, site, do))


@router.post(
    "/import",
    response_model=ImportOut,
    summary="Import cards from CSV (text/csv body)",
    **allow(Role.PARKING, openapi_extra={"requestBody": CSV_BODY}),
)
async def import_csv(
    request: Request,
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
) -> ImportOut:
    raw = await request.body()
    if len(raw) > 10 * 1024 * 1024:
        raise HTTPException(413, "a CSV import is at most 10 MB: import in parts")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, "the CSV is not UTF-8 text (save it as CSV UTF-8)") from None
    result = _change(session, site, lambda s: import_cards(session, s, text, operator))
    return ImportOut(
        imported=len(result.imported),
        ids=result.imported,
        errors=[ImportRowError(line=e.line, card=e.card, message=e.message) for e in result.errors],
    )


# Last: its `{action}` segment would otherwise catch /extend.
@router.post(
    "/{card_id}/{action}",
    response_model=CardOut,
    summary="Suspend a card, or lift its suspension",
    responses=REFUSED,
    **WRITE,
)
def suspension(
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    card_id: IdPath,
    action: Literal["suspend", "reactivate"],
    body: NoteBody | None = None,
) -> CardOut:
    def change(s: Site) -> CardRecord:
        suspended = action == "suspend"
        return cards.set_suspended(session, s, card_id, suspended, operator, _note(body))

    return card_out(_change(session, site, change))
