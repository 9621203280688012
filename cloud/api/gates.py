"""Parking gates: what the gates decided, opening a barrier from the console, registering a
stranger vehicle and letting it through, and the day report."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Day, Instant, SessionDep, SiteDep
from cloud.api.gate_schemas import (
    DayReportOut,
    LaneOut,
    OpenBody,
    OpenOut,
    PassOut,
    RegistrationIn,
    RegistrationOut,
    UnloadingOut,
)
from cloud.api.operator import OperatorDep
from cloud.api.security import allow
from cloud.auth.roles import PARKING_STAFF, Role
from cloud.gates.report import day_report
from cloud.gates.tables import CardRecord, GatePassRecord, VehicleRegistration
from cloud.models import utcnow
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/gates", tags=["gates"])
READ = allow(*PARKING_STAFF)
WRITE = allow(Role.PARKING, Role.OPERATOR)
NO_BROKER = {503: {"description": "the broker is not reachable: nothing was sent"}}


def _holders(session: Session, site: str, records: list[GatePassRecord]) -> list[PassOut]:
    numbers = {r.card for r in records if r.card}
    holders: dict[str, str] = {}
    if numbers:
        rows = session.execute(
            select(CardRecord.card, CardRecord.holder).where(
                CardRecord.site == site, CardRecord.card.in_(sorted(numbers))
            )
        )
        holders = {card: holder for card, holder in rows}
    return [
        PassOut.model_validate(r).model_copy(update={"holder": holders.get(r.card or "")})
        for r in records
    ]


@router.get("/passes", response_model=list[PassOut], summary="Gate decisions, newest first", **READ)
def passes(
    session: SessionDep,
    site: SiteDep,
    lane: str | None = None,
    card: str | None = None,
    allowed: bool | None = None,
    reason: Annotated[
        str | None, Query(description="valid, lost, unknown, anti_passback, …")
    ] = None,
    since: Annotated[Instant | None, Query(description="from this time (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[PassOut]:
    query = select(GatePassRecord).where(GatePassRecord.site == site.id)
    for column, value in (
        (GatePassRecord.lane, lane),
        (GatePassRecord.reason, reason),
        (GatePassRecord.allowed, allowed),
    ):
        if value is not None:
            query = query.where(column == value)
    if card is not None:
        query = query.where(GatePassRecord.card == card.upper())
    if since is not None:
        query = query.where(GatePassRecord.at >= since)
    records = list(session.scalars(query.order_by(GatePassRecord.at.desc()).limit(limit)))
    return _holders(session, site.id, records)


def _lane(site: Site, lane: str) -> tuple[str, str]:
    """The lane's node and direction; 404 unless configured."""
    found = site.parking.lanes.get(lane)
    if found is None:
        known = ", ".join(sorted(site.parking.lanes)) or "none"
        raise HTTPException(404, f"lane {lane!r} is not configured (lanes: {known})")
    node = site.nodes[found.node]
    direction = next(
        (r.direction for r in node.readers.values() if r.lane == lane and r.direction), "in"
    )
    return found.node, direction


def _send_open(request: Request, site: Site, lane: str, args: dict[str, object]) -> bool:
    node, _ = _lane(site, lane)
    commands = request.app.state.commands
    return commands is not None and commands.send_command(site.id, node, "gate_open", args)


@router.post(
    "/{lane}/open",
    response_model=OpenOut,
    status_code=202,
    responses=NO_BROKER,
    summary="Open a barrier from the console (logged at the gate with who and why)",
    **WRITE,
)
def open_barrier(
    request: Request,
    operator: OperatorDep,
    lane: str,
    body: OpenBody,
    site: SiteDep,
) -> OpenOut:
    node, _ = _lane(site, lane)
    if not _send_open(request, site, lane, {"lane": lane, "by": operator, "reason": body.reason}):
        raise HTTPException(503, "the broker is not reachable; the barrier was not opened")
    return OpenOut(lane=lane, node=node, sent=True)


@router.post(
    "/registrations",
    response_model=RegistrationOut,
    status_code=201,
    summary="Register a stranger vehicle at the booth and, if allowed, let it through",
    **WRITE,
)
def register_vehicle(
    request: Request,
    session: SessionDep,
    site: SiteDep,
    operator: OperatorDep,
    body: RegistrationIn,
) -> RegistrationOut:
    _, direction = _lane(site, body.lane)
    denied = session.get(GatePassRecord, body.pass_id) if body.pass_id is not None else None
    if body.pass_id is not None and (denied is None or denied.site != site.id):
        raise HTTPException(404, f"gate pass {body.pass_id} does not exist in site {site.id!r}")
    registration = VehicleRegistration(
        site=site.id,
        direction=direction,
        by=operator,
        at=utcnow(),
        **body.model_dump(exclude={"plate"}),
        plate=body.plate.strip().upper(),
    )
    session.add(registration)
    session.commit()
    sent = None
    if body.let_through:
        args: dict[str, object] = {
            "lane": body.lane,
            "by": operator,
            "registered": True,
            "reason": f"registered vehicle {registration.plate} ({body.purpose})",
        }
        if denied is not None and denied.card:
            args["card"] = denied.card
        sent = _send_open(request, site, body.lane, args)
    return RegistrationOut.model_validate(registration).model_copy(update={"sent": sent})


@router.get("/lanes", response_model=list[LaneOut], summary="The site's gate lanes", **READ)
def lanes(site: SiteDep) -> list[LaneOut]:
    found = []
    for lane_id, lane in site.parking.lanes.items():
        rule = site.parking.rule(lane_id)
        _, direction = _lane(site, lane_id)
        found.append(
            LaneOut(
                id=lane_id,
                name=lane.name,
                node=lane.node,
                direction=direction,
                anti_passback=rule.mode.value,
                timed_min=rule.timed_min if rule.mode.value == "timed" else None,
            )
        )
    return found


@router.get(
    "/registrations",
    response_model=list[RegistrationOut],
    summary="Vehicles registered, newest first",
    **READ,
)
def registrations(
    session: SessionDep,
    site: SiteDep,
    since: Annotated[Instant | None, Query(description="from this time (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[RegistrationOut]:
    query = select(VehicleRegistration).where(VehicleRegistration.site == site.id)
    if since is not None:
        query = query.where(VehicleRegistration.at >= since)
    found = session.scalars(query.order_by(VehicleRegistration.at.desc()).limit(limit))
    return [RegistrationOut.model_validate(r) for r in found]


@router.get("/report", response_model=DayReportOut, summary="The parking day report", **READ)
def report(
    session: SessionDep,
    site: SiteDep,
    day: Annotated[Day | None, Query(description="site-local date; default today")] = None,
) -> DayReportOut:
    now = utcnow()
    when = day or now.astimezone(ZoneInfo(site.timezone)).date()
    result = day_report(session, site, when, now)
    return DayReportOut(
        site=result.site,
        site_name=site.name,
        unloading_free_min=site.parking.unloading_free_min,
        unloading_charged_after_min=site.parking.unloading_charged_after_min,
        day=result.day,
        entries=result.entries,
        exits=result.exits,
        occupancy=result.occupancy,
        denied=result.denied,
        violations=_holders(session, site.id, result.violations),
        strangers=_holders(session, site.id, result.strangers),
        emergency=_holders(session, site.id, result.emergency),
        registrations=[RegistrationOut.model_validate(r) for r in result.registrations],
        unloading=[UnloadingOut.of(u) for u in result.unloading],
    )
