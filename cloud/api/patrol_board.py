"""The live patrol board and the 24-hour coverage timeline of each route.

The board answers the control room's three questions: where is each guard on tour now, which
rounds are due next (and is one due right now), and which of today's rounds went wrong. The
timeline shows a site-local day of a route at a glance: every tour as a bar coloured by what
became of it, and the slots still to come.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cloud.api.patrol_schemas import (
    Bar,
    Board,
    LiveTour,
    NextDue,
    RouteTimeline,
    Slot,
    Timeline,
    TourOut,
)
from cloud.api.patrol_views import (
    TourFilter,
    checkpoint_name,
    find_tours,
    local_date,
    local_day,
    tour_out,
)
from cloud.patrol.schedule import starts_between
from cloud.patrol.tables import PatrolTour, TourStatus, Verdict
from sitewatch.siteconfig import Site

NEXT_SLOTS = 3
LOOK_AHEAD = timedelta(days=7)  # as far as `schedule.next_starts` looks


def board(session: Session, site: Site, now: datetime) -> Board:
    today = local_date(site, now)
    return Board(
        site=site.id,
        site_name=site.name,
        now=now,
        day=today,
        in_progress=_in_progress(session, site),
        next_due=[
            NextDue(
                route=route_id,
                route_name=route.name,
                slots=_free_slots(session, site, route_id, now),
            )
            for route_id, route in site.patrol.routes.items()
        ],
        attention=[t for t in _today(session, site, today) if _needs_attention(t)],
    )


def _in_progress(session: Session, site: Site) -> list[LiveTour]:
    tours = session.scalars(
        select(PatrolTour)
        .where(PatrolTour.site == site.id, PatrolTour.status == TourStatus.IN_PROGRESS)
        .options(selectinload(PatrolTour.visits))
        .order_by(PatrolTour.started_at)
    )
    live = []
    for tour in tours:
        tapped = [v for v in tour.visits if v.tapped_at is not None]
        # Where the guard is: the checkpoint tapped last in time (out of order may be further on).
        last = max(tapped, key=lambda v: v.tapped_at or tour.started_at) if tapped else None
        upcoming = next((v for v in tour.visits if v.verdict == Verdict.PENDING), None)
        live.append(
            LiveTour(
                tour=tour_out(site, tour),
                last_checkpoint=last.checkpoint if last else None,
                last_checkpoint_name=checkpoint_name(site, last.checkpoint) if last else None,
                last_tap_at=tour.last_tap_at,
                next_checkpoint=upcoming.checkpoint if upcoming else None,
                next_checkpoint_name=checkpoint_name(site, upcoming.checkpoint)
                if upcoming
                else None,
                next_expected_at=upcoming.expected_at if upcoming else None,
                next_window_to=upcoming.window_to if upcoming else None,
                next_due_by=upcoming.due_by if upcoming else None,
                lone_worker=tour.lone_alarm,
            )
        )
    return live


def _window(site: Site, route_id: str) -> timedelta:
    return timedelta(minutes=site.patrol.start_window(site.patrol.routes[route_id]))


def _taken(session: Session, site: Site, route_id: str, slots: list[datetime]) -> set[datetime]:
    if not slots:
        return set()
    return set(
        session.scalars(
            select(PatrolTour.scheduled_at).where(
                PatrolTour.site == site.id,
                PatrolTour.route == route_id,
                PatrolTour.scheduled_at.in_(slots),
            )
        )
    )


def _free_slots(session: Session, site: Site, route_id: str, now: datetime) -> list[Slot]:
    """The route's next slots no tour has taken, including one whose start window is open now
    (a guard may start up to the window after the scheduled time)."""
    window = _window(site, route_id)
    route = site.patrol.routes[route_id]
    starts = starts_between(site.id, route_id, route, site.timezone, now - window, now + LOOK_AHEAD)
    # A slot's start window is [at - window, at + window]; one that closed is the clock's.
    starts = [at for at in starts if at + window >= now][: NEXT_SLOTS * 2]
    taken = _taken(session, site, route_id, starts)
    free = [at for at in starts if at not in taken][:NEXT_SLOTS]
    return [
        Slot(at=at, window_from=at - window, window_to=at + window, open=at - window <= now)
        for at in free
    ]


def _today(session: Session, site: Site, day: date) -> list[TourOut]:
    begin, end = local_day(site, day)
    return [
        tour_out(site, t) for t in find_tours(session, TourFilter(site.id, begin=begin, end=end))
    ]


def _needs_attention(tour: TourOut) -> bool:
    """Late, missed or not started; a tour still going counts once a checkpoint went wrong."""
    if tour.outcome in ("late", "missed", "not_started"):
        return True
    return tour.outcome == "in_progress" and tour.late + tour.out_of_order + tour.missed > 0


# -- the 24-hour timeline ---------------------------------------------------------------------


def timeline(
    session: Session, site: Site, route_ids: list[str], day: date, now: datetime
) -> Timeline:
    begin, end = local_day(site, day)
    return Timeline(
        site=site.id,
        date=day,
        day_start=begin,
        day_end=end,
        now=now,
        routes=[
            _route_timeline(session, site, route_id, begin, end, now) for route_id in route_ids
        ],
    )


def _route_timeline(
    session: Session, site: Site, route_id: str, begin: datetime, end: datetime, now: datetime
) -> RouteTimeline:
    route = site.patrol.routes[route_id]
    tours = find_tours(session, TourFilter(site.id, route=route_id, begin=begin, end=end))
    bars = [_bar(site, t, now) for t in tours]
    # Slots still to come (their start window not closed yet) are drawn as due; a slot that
    # closed with nobody on it is a not-started tour the clock has recorded.
    window = _window(site, route_id)
    walk = timedelta(minutes=sum(stop.walk_min for stop in route.stops))
    slots = starts_between(site.id, route_id, route, site.timezone, begin, end)
    taken = {t.scheduled_at for t in tours} | _taken(session, site, route_id, slots)
    for at in slots:
        if at not in taken and at + window >= now:
            bars.append(
                Bar(
                    tour_id=None,
                    scheduled=True,
                    start=at,
                    end=at + max(walk, window),
                    outcome="due",
                    guard=None,
                    guard_name=None,
                )
            )
    bars.sort(key=lambda bar: bar.start)
    return RouteTimeline(route=route_id, route_name=route.name, bars=bars)


def _bar(site: Site, tour: PatrolTour, now: datetime) -> Bar:
    out = tour_out(site, tour)
    start = tour.started_at or tour.scheduled_at
    assert start is not None  # a tour is either started or a slot
    finish = tour.ended_at or max(now, start)
    return Bar(
        tour_id=tour.id,
        scheduled=tour.scheduled_at is not None,
        start=start,
        end=finish,
        outcome=out.outcome,
        guard=tour.guard,
        guard_name=out.guard_name,
    )
