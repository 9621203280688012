"""Read patrol for the API: the configured guards, checkpoints and routes; tours, taps and
incidents as stored, with the names the site file gives them.

Names are looked up in the site file at read time, so a renamed checkpoint shows its new name
in old tours too; a checkpoint or route since taken out of the file shows its id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from cloud.api.patrol_schemas import (
    CheckpointOut,
    GuardOut,
    IncidentOut,
    Outcome,
    RouteOut,
    StopOut,
    TapOut,
    TourDetail,
    TourOut,
    TourPage,
    VisitOut,
)
from cloud.patrol.schedule import next_starts
from cloud.patrol.tables import PatrolIncident, PatrolTap, PatrolTour, TourStatus, Verdict
from sitewatch.siteconfig import Site

Row = TypeVar("Row", bound=tuple[Any, ...])

# A problem at a checkpoint that still counts as walked, but not as walked well.
LATE_VERDICTS = {Verdict.LATE, Verdict.OUT_OF_ORDER}


# -- days and names ------------------------------------------------------------------------


def local_day(site: Site, day: date) -> tuple[datetime, datetime]:
    """The site-local day as UTC times [start, end): from its midnight to the next one."""
    zone = ZoneInfo(site.timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_date(site: Site, at: datetime) -> date:
    return at.astimezone(ZoneInfo(site.timezone)).date()


def as_aware(site: Site, value: datetime) -> datetime:
    """A time given without a zone (or a bare date) is the site's local time."""
    return value.replace(tzinfo=ZoneInfo(site.timezone)) if value.tzinfo is None else value


def checkpoint_name(site: Site, checkpoint: str) -> str:
    place = site.patrol.checkpoints.get(checkpoint)
    return (place.name if place else None) or checkpoint


def checkpoint_location(site: Site, checkpoint: str) -> str | None:
    place = site.patrol.checkpoints.get(checkpoint)
    node = site.nodes.get(place.node) if place else None
    reader = node.readers.get(place.reader) if node and place else None
    return reader.location if reader else None


def route_name(site: Site, route: str) -> str:
    found = site.patrol.routes.get(route)
    return found.name if found else route


def guard_name(site: Site, guard: str | None) -> str | None:
    if guard is None:
        return None
    found = site.patrol.guards.get(guard)
    return found.name if found else guard


# -- the site file ----------------------------------------------------------------------------


def routes(site: Site, now: datetime) -> list[RouteOut]:
    patrol = site.patrol
    return [
        RouteOut(
            id=route_id,
            name=route.name,
            stops=[
                StopOut(
                    position=position,
                    checkpoint=stop.checkpoint,
                    name=checkpoint_name(site, stop.checkpoint),
                    location=checkpoint_location(site, stop.checkpoint),
                    walk_min=stop.walk_min,
                    tolerance_min=stop.tolerance_min,
                )
                for position, stop in enumerate(route.stops)
            ],
            schedules=route.schedules,
            start_window_min=patrol.start_window(route),
            grace_min=patrol.grace(route),
            lone_worker_min=patrol.lone_worker(route),
            next_starts=next_starts(site.id, route_id, route, site.timezone, now),
        )
        for route_id, route in patrol.routes.items()
    ]


def guards(session: Session, site: Site) -> list[GuardOut]:
    walking = dict(
        session.execute(
            select(PatrolTour.guard, PatrolTour.id).where(
                PatrolTour.site == site.id, PatrolTour.status == TourStatus.IN_PROGRESS
            )
        ).all()
    )
    return [
        GuardOut(id=guard_id, name=guard.name, badges=guard.badges, on_tour=walking.get(guard_id))
        for guard_id, guard in site.patrol.guards.items()
    ]


def checkpoints(site: Site) -> list[CheckpointOut]:
    return [
        CheckpointOut(
            id=checkpoint_id,
            name=checkpoint_name(site, checkpoint_id),
            node=place.node,
            reader=place.reader,
            location=checkpoint_location(site, checkpoint_id),
            routes=[
                route_id
                for route_id, route in site.patrol.routes.items()
                if any(stop.checkpoint == checkpoint_id for stop in route.stops)
            ],
        )
        for checkpoint_id, place in site.patrol.checkpoints.items()
    ]


# -- tours ------------------------------------------------------------------------------------


def outcome(tour: PatrolTour) -> Outcome:
    """walked: completed with every checkpoint on time or early; late: completed with a late or
    out-of-order one; missed: a checkpoint missed; not_started; in_progress."""
    if tour.status == TourStatus.NOT_STARTED:
        return "not_started"
    if tour.status == TourStatus.INCOMPLETE:
        return "missed"
    if tour.status == TourStatus.IN_PROGRESS:
        return "in_progress"
    return "late" if any(v.verdict in LATE_VERDICTS for v in tour.visits) else "walked"


def tour_out(site: Site, tour: PatrolTour) -> TourOut:
    verdicts = Counter(v.verdict for v in tour.visits)
    return TourOut(
        id=tour.id,
        site=tour.site,
        route=tour.route,
        route_name=route_name(site, tour.route),
        guard=tour.guard,
        guard_name=guard_name(site, tour.guard),
        scheduled_at=tour.scheduled_at,
        started_at=tour.started_at,
        ended_at=tour.ended_at,
        status=tour.status,
        outcome=outcome(tour),
        checkpoints=len(tour.visits),
        on_time=verdicts[Verdict.ON_TIME],
        early=verdicts[Verdict.EARLY],
        late=verdicts[Verdict.LATE],
        out_of_order=verdicts[Verdict.OUT_OF_ORDER],
        missed=verdicts[Verdict.MISSED],
    )


def narrowed(query: Select[Row], *equal: tuple[Any, object | None]) -> Select[Row]:
    """Rows whose column equals each (column, value) given; a value of None leaves it open."""
    for column, value in equal:
        if value is not None:
            query = query.where(column == value)
    return query


def between(
    query: Select[Row], column: Any, begin: datetime | None, end: datetime | None
) -> Select[Row]:
    """Rows with `column` in [begin, end); either end may be open."""
    if begin is not None:
        query = query.where(column >= begin)
    if end is not None:
        query = query.where(column < end)
    return query


# When a tour happened: when it started, or for a slot nobody started, when it was due.
def tour_time() -> ColumnElement[datetime]:
    return func.coalesce(PatrolTour.started_at, PatrolTour.scheduled_at)


@dataclass(frozen=True)
class TourFilter:
    site: str
    route: str | None = None
    guard: str | None = None
    status: str | None = None
    begin: datetime | None = None  # inclusive, on the tour's time
    end: datetime | None = None  # exclusive

    def query(self) -> Select[tuple[PatrolTour]]:
        query = narrowed(
            select(PatrolTour),
            (PatrolTour.site, self.site),
            (PatrolTour.route, self.route),
            (PatrolTour.guard, self.guard),
            (PatrolTour.status, self.status),
        )
        return between(query, tour_time(), self.begin, self.end)


def find_tours(session: Session, wanted: TourFilter) -> list[PatrolTour]:
    """Tours with their visits loaded, earliest first."""
    query = wanted.query().options(selectinload(PatrolTour.visits))
    return list(session.scalars(query.order_by(tour_time(), PatrolTour.id)))


def tour_page(
    session: Session, site: Site, wanted: TourFilter, limit: int, offset: int
) -> TourPage:
    total = session.scalar(select(func.count()).select_from(wanted.query().subquery())) or 0
    query = wanted.query().options(selectinload(PatrolTour.visits))
    # Newest first: the control room looks at what just happened.
    query = query.order_by(tour_time().desc(), PatrolTour.id.desc()).limit(limit).offset(offset)
    return TourPage(total=total, tours=[tour_out(site, t) for t in session.scalars(query)])


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def tour_detail(session: Session, site: Site, tour: PatrolTour) -> TourDetail:
    taps = session.scalars(
        select(PatrolTap).where(PatrolTap.tour_id == tour.id).order_by(PatrolTap.at, PatrolTap.id)
    )
    incidents = session.scalars(
        select(PatrolIncident)
        .where(PatrolIncident.tour_id == tour.id)
        .order_by(PatrolIncident.reported_at)
    )
    return TourDetail(
        tour=tour_out(site, tour),
        visits=[
            VisitOut(
                position=v.position,
                checkpoint=v.checkpoint,
                name=checkpoint_name(site, v.checkpoint),
                expected_at=v.expected_at,
                window_from=v.window_from,
                window_to=v.window_to,
                due_by=v.due_by,
                tapped_at=v.tapped_at,
                verdict=v.verdict,
                late_min=_minutes(v.late_s),
            )
            for v in tour.visits
        ],
        taps=[tap_out(site, tap) for tap in taps],
        incidents=[incident_out(site, i) for i in incidents],
    )


# -- taps and incidents -----------------------------------------------------------------------


def tap_out(site: Site, tap: PatrolTap) -> TapOut:
    return TapOut(
        id=tap.id,
        at=tap.at,
        checkpoint=tap.checkpoint,
        checkpoint_name=checkpoint_name(site, tap.checkpoint),
        node=tap.node,
        reader=tap.reader,
        card=tap.card,
        guard=tap.guard,
        guard_name=guard_name(site, tap.guard),
        tour_id=tap.tour_id,
        verdict=tap.verdict,
    )


@dataclass(frozen=True)
class TapFilter:
    site: str
    checkpoint: str | None = None
    guard: str | None = None
    verdict: str | None = None
    begin: datetime | None = None
    end: datetime | None = None


def list_taps(session: Session, site: Site, wanted: TapFilter, limit: int) -> list[TapOut]:
    """Newest first."""
    query = narrowed(
        select(PatrolTap),
        (PatrolTap.site, wanted.site),
        (PatrolTap.checkpoint, wanted.checkpoint),
        (PatrolTap.guard, wanted.guard),
        (PatrolTap.verdict, wanted.verdict),
    )
    query = between(query, PatrolTap.at, wanted.begin, wanted.end)
    query = query.order_by(PatrolTap.at.desc(), PatrolTap.id.desc()).limit(limit)
    return [tap_out(site, tap) for tap in session.scalars(query)]


def incident_out(site: Site, incident: PatrolIncident) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        site=incident.site,
        tour_id=incident.tour_id,
        checkpoint=incident.checkpoint,
        checkpoint_name=checkpoint_name(site, incident.checkpoint),
        category=incident.category,
        major=incident.major,
        notes=incident.notes,
        reported_by=incident.reported_by,
        reported_at=incident.reported_at,
        alarm_id=incident.alarm_id,
    )


def list_incidents(
    session: Session, site: Site, begin: datetime | None, end: datetime | None, limit: int
) -> list[IncidentOut]:
    """Newest first."""
    query = select(PatrolIncident).where(PatrolIncident.site == site.id)
    query = between(query, PatrolIncident.reported_at, begin, end)
    query = query.order_by(PatrolIncident.reported_at.desc(), PatrolIncident.id.desc())
    return [incident_out(site, i) for i in session.scalars(query.limit(limit))]
