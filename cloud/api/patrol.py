"""Patrol endpoints: the configured routes, guards and checkpoints; the live board; tours, taps,
the 24-hour timeline, reports (JSON or CSV) and incidents found on patrol.

Every endpoint takes `site`, which may be left out when only one site is configured. Times are
UTC in answers; a time or date given without a zone is the site's local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session, selectinload

from cloud.api import patrol_board as live
from cloud.api import patrol_reports as reports
from cloud.api import patrol_views as views
from cloud.api.alarms import perform
from cloud.api.deps import Day, IdPath, Instant, NowDep, SessionDep, SiteDep
from cloud.api.operator import OperatorDep
from cloud.api.patrol_schemas import (
    Board,
    CheckpointOut,
    GuardOut,
    IncidentIn,
    IncidentOut,
    Report,
    RouteOut,
    TapOut,
    Timeline,
    TourDetail,
    TourPage,
)
from cloud.api.security import EVERYONE, allow
from cloud.auth.roles import Role
from cloud.patrol.incidents import IncidentRefused, report_incident
from cloud.patrol.tables import PatrolIncident, PatrolTour
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/patrol", tags=["patrol"])
READ = EVERYONE
WRITE = allow(Role.GUARD, Role.OPERATOR)

MAX_REPORT_DAYS = 366  # a year: one query over every tour of the period


From = Annotated[
    Instant | None,
    Query(alias="from", description="from this time (inclusive); no zone: the site's local time"),
]
To = Annotated[
    Instant | None,
    Query(alias="to", description="before this time (exclusive); no zone: the site's local time"),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")]


def _known(kind: str, value: str | None, configured: dict, site: Site) -> str | None:
    if value is not None and value not in configured:
        raise HTTPException(404, f"{kind} {value!r} is not configured in site {site.id!r}")
    return value


def _span(site: Site, begin: datetime | None, end: datetime | None) -> tuple:
    return (
        views.as_aware(site, begin) if begin else None,
        views.as_aware(site, end) if end else None,
    )


@router.get("/routes", response_model=list[RouteOut], summary="Routes, stops and schedules", **READ)
def get_routes(site: SiteDep, now: NowDep) -> list[RouteOut]:
    """Every route of the site file: its checkpoints in order with the walk and tolerance of
    each, its schedules as configured, and its next three scheduled starts."""
    return views.routes(site, now)


@router.get("/guards", response_model=list[GuardOut], summary="Guards and their badges", **READ)
def get_guards(site: SiteDep, session: SessionDep) -> list[GuardOut]:
    """The guards of the site file, with their badge UIDs and the tour each walks now."""
    return views.guards(session, site)


@router.get("/checkpoints", response_model=list[CheckpointOut], summary="Checkpoints", **READ)
def get_checkpoints(site: SiteDep) -> list[CheckpointOut]:
    """Every checkpoint: its reader, where it is, and which routes stop there."""
    return views.checkpoints(site)


@router.get("/board", response_model=Board, summary="The live patrol board", **READ)
def get_board(site: SiteDep, session: SessionDep, now: NowDep) -> Board:
    """Tours in progress (where each guard is, the next checkpoint and its deadline, the
    lone-worker flag), the next free slots of each route (`open`: a tap starts it now), and
    today's (site-local) tours that were late, missed a checkpoint or were not started."""
    return live.board(session, site, now)


Status = Literal["in_progress", "completed", "incomplete", "not_started"]


@router.get("/tours", response_model=TourPage, summary="Tours, newest first", **READ)
def get_tours(
    site: SiteDep,
    session: SessionDep,
    begin: From = None,
    end: To = None,
    route: Annotated[str | None, Query(description="route id")] = None,
    guard: Annotated[str | None, Query(description="guard id")] = None,
    status: Annotated[Status | None, Query(description="the tour's status")] = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, description="skip this many (paging)")] = 0,
) -> TourPage:
    """Tours by the time they started (a slot nobody started: when it was due)."""
    wanted = views.TourFilter(
        site.id,
        route=_known("route", route, site.patrol.routes, site),
        guard=_known("guard", guard, site.patrol.guards, site),
        status=status,
        begin=_span(site, begin, end)[0],
        end=_span(site, begin, end)[1],
    )
    return views.tour_page(session, site, wanted, limit, offset)


@router.get("/tours/{tour_id}", response_model=TourDetail, summary="One tour in detail", **READ)
def get_tour(tour_id: IdPath, site: SiteDep, session: SessionDep) -> TourDetail:
    """The tour with each checkpoint's expected time, window, deadline, tap and verdict (late
    minutes when late), every tap of the tour and the incidents reported on it."""
    tour = _tour(session, site, tour_id)
    return views.tour_detail(session, site, tour)


def _tour(session: Session, site: Site, tour_id: int) -> PatrolTour:
    tour = session.get(PatrolTour, tour_id, options=[selectinload(PatrolTour.visits)])
    if tour is None or tour.site != site.id:
        raise HTTPException(404, f"tour {tour_id} does not exist in site {site.id!r}")
    return tour


Verdicts = Literal[
    "on_time", "early", "late", "out_of_order", "repeat", "not_on_route", "unknown_badge"
]


@router.get("/taps", response_model=list[TapOut], summary="Badge taps at checkpoints", **READ)
def get_taps(
    site: SiteDep,
    session: SessionDep,
    begin: From = None,
    end: To = None,
    checkpoint: Annotated[str | None, Query(description="checkpoint id")] = None,
    guard: Annotated[str | None, Query(description="guard id")] = None,
    verdict: Annotated[Verdicts | None, Query(description="the verdict the tap got")] = None,
    limit: Limit = 500,
) -> list[TapOut]:
    """Every badge read at a checkpoint reader, with the verdict it got, newest first. An
    unknown badge's taps have no guard: filter on `verdict=unknown_badge`."""
    span = _span(site, begin, end)
    wanted = views.TapFilter(
        site.id,
        checkpoint=_known("checkpoint", checkpoint, site.patrol.checkpoints, site),
        guard=_known("guard", guard, site.patrol.guards, site),
        verdict=verdict,
        begin=span[0],
        end=span[1],
    )
    return views.list_taps(session, site, wanted, limit)


@router.get("/timeline", response_model=Timeline, summary="24-hour coverage of routes", **READ)
def get_timeline(
    site: SiteDep,
    session: SessionDep,
    now: NowDep,
    route: Annotated[str | None, Query(description="route id; default: every route")] = None,
    day: Annotated[
        Day | None, Query(alias="date", description="site-local date; default: today")
    ] = None,
) -> Timeline:
    """Every tour of a site-local day as a bar from start to end with its outcome: walked
    (completed, every checkpoint on time or early), late (completed with a late or
    out-of-order checkpoint), missed (a checkpoint missed), not_started, in_progress; and
    `due` for slots still to come. Unscheduled tours have `scheduled: false`."""
    routes = (
        [_known("route", route, site.patrol.routes, site)] if route else list(site.patrol.routes)
    )
    wanted_day = day or views.local_date(site, now)
    return live.timeline(session, site, [r for r in routes if r], wanted_day, now)


@router.get(
    "/report",
    response_model=Report,
    summary="Completion, lateness and missed checkpoints",
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
    **READ,
)
def get_report(
    site: SiteDep,
    session: SessionDep,
    now: NowDep,
    first: Annotated[
        Day | None, Query(alias="from", description="first site-local date; default: 6 days ago")
    ] = None,
    last: Annotated[
        Day | None,
        Query(alias="to", description="last site-local date (inclusive); default: today"),
    ] = None,
    by: Annotated[
        reports.By, Query(description="one row per route, guard, day or ISO week")
    ] = "route",
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: a download for Excel")
    ] = "json",
    table: Annotated[
        Literal["rows", "missed"],
        Query(description="with format=csv: the rows or the missed checkpoints"),
    ] = "rows",
) -> Report | Response:
    """Per row: `due` scheduled slots (including those not started), `tours` counted
    (scheduled and unscheduled; tours in progress wait until they end), `walked` (completed:
    every checkpoint tapped), `completion_rate` = walked / tours, checkpoints on time, early,
    late, out of order and missed, and `avg_late_min`, the mean lateness of late checkpoints
    after their window. `missed` lists every missed checkpoint of the period. CSV is UTF-8
    with a byte-order mark (Excel shows the Chinese names), times in site-local time."""
    last = last or views.local_date(site, now)
    first = first or last - timedelta(days=6)
    if first > last:
        raise HTTPException(400, f"'from' ({first}) is after 'to' ({last})")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise HTTPException(400, f"a report covers at most {MAX_REPORT_DAYS} days")
    found = reports.report(session, site, first, last, by)
    if format == "json":
        return found
    return Response(
        reports.to_csv(site, found, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{reports.filename(found, table)}"'},
    )


@router.post(
    "/incidents",
    response_model=IncidentOut,
    status_code=201,
    summary="Report an incident found on patrol",
    responses={
        400: {"description": "no X-Operator header"},
        422: {"description": "an unknown checkpoint or tour, or one not on the tour's route"},
    },
    **WRITE,
)
def post_incident(
    request: Request, body: IncidentIn, site: SiteDep, by: OperatorDep, now: NowDep
) -> IncidentOut:
    """Record what was found at a checkpoint (leak, damage, suspicious_person, fire_hazard,
    other), optionally on a tour. A major one (by default leak, suspicious person and fire
    hazard; `major` overrides) raises an alarm in the control room at once: its id is
    `alarm_id`. Who reports it comes from the X-Operator header."""
    made: list[int] = []

    def record(session: Session) -> None:
        made[:] = [
            report_incident(
                session, site, body.checkpoint, body.category, body.notes, by, now,
                tour_id=body.tour_id, major=body.major,
            ).id
        ]  # fmt: skip

    try:
        perform(request, record)
    except IncidentRefused as exc:
        raise HTTPException(422, str(exc)) from None
    with request.app.state.sessions() as session:
        return views.incident_out(site, session.get_one(PatrolIncident, made[0]))


@router.get(
    "/incidents", response_model=list[IncidentOut], summary="Incidents, newest first", **READ
)
def get_incidents(
    site: SiteDep, session: SessionDep, begin: From = None, end: To = None, limit: Limit = 500
) -> list[IncidentOut]:
    """Incidents reported on patrol, by when they were reported."""
    span = _span(site, begin, end)
    return views.list_incidents(session, site, span[0], span[1], limit)
