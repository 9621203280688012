"""Live tours: judge each badge tap at a checkpoint, start and finish tours, and tell the reader.

A tap is judged by the edge's read time. The guard's reader shows green for a tap that counts
(on time, early, late, a repeat) and red for one that does not (out of order, not on the route,
an unknown badge). What no tap tells us (a missed checkpoint, a silent guard, a tour never
started) is the patrol clock's job (`cloud.patrol.clock`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from cloud.alarms.engine import source_time
from cloud.commands import EdgeCommand, queue_command
from cloud.patrol import alarms
from cloud.patrol.schedule import starts_between
from cloud.patrol.tables import ACCEPTED, PatrolTap, PatrolTour, PatrolVisit, TourStatus, Verdict
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site

REPEAT = "repeat"  # the checkpoint the guard already tapped on this tour: harmless, shown green


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def on_tap(work: WorkingSet, site: Site, node: str, tap: wire.CardTap) -> None:
    """Judge a tap at one of the site's readers; a reader that is no checkpoint is left alone."""
    checkpoint = site.patrol.checkpoint_at(node, tap.reader)
    if checkpoint is None:
        return
    at = source_time(tap.ts)
    guard = site.patrol.guard_of(tap.card)
    record = PatrolTap(
        site=site.id,
        node=node,
        reader=tap.reader,
        checkpoint=checkpoint,
        card=tap.card,
        guard=guard,
        at=at,
        verdict=Verdict.UNKNOWN_BADGE,
    )
    tour: PatrolTour | None = None
    if guard is None:
        source = alarms.place_source(site, alarms.BADGES_DEVICE, checkpoint)
        alarms.pulse(work, source, alarms.UNKNOWN_BADGE, f"card {tap.card}", at)
    else:
        tour = current_tour(work, site.id, guard)
        if tour is not None:
            record.verdict = judge(work, site, tour, checkpoint, at)
        else:
            tour, record.verdict = start(work, site, guard, checkpoint, at)
    record.tour_id = tour.id if tour is not None else None
    work.session.add(record)
    ok = record.verdict in ACCEPTED or record.verdict == REPEAT
    queue_command(
        work.session, EdgeCommand(site.id, node, "feedback", {"reader": tap.reader, "ok": ok})
    )


def current_tour(work: WorkingSet, site: str, guard: str) -> PatrolTour | None:
    query = (
        select(PatrolTour)
        .where(
            PatrolTour.site == site,
            PatrolTour.guard == guard,
            PatrolTour.status == TourStatus.IN_PROGRESS,
        )
        .order_by(PatrolTour.started_at.desc())
        .limit(1)
    )
    return work.session.scalar(query)


def _open_slot(work: WorkingSet, site: Site, route_id: str, at: datetime) -> datetime | None:
    """The route's scheduled start nearest to `at` whose start window holds `at` and that no
    tour has taken yet."""
    window = minutes(site.patrol.start_window(site.patrol.routes[route_id]))
    route = site.patrol.routes[route_id]
    slots = starts_between(site.id, route_id, route, site.timezone, at - window, at + window)
    if not slots:
        return None
    taken = set(
        work.session.scalars(
            select(PatrolTour.scheduled_at).where(
                PatrolTour.site == site.id,
                PatrolTour.route == route_id,
                PatrolTour.scheduled_at.in_(slots),
            )
        )
    )
    free = [slot for slot in slots if slot not in taken]
    return min(free, key=lambda slot: abs(slot - at)) if free else None


def start(
    work: WorkingSet, site: Site, guard: str, checkpoint: str, at: datetime
) -> tuple[PatrolTour | None, str]:
    """A guard not on tour taps a route's first checkpoint: the tour of a due slot if one is
    open, else an unscheduled tour of the first route starting there."""
    routes = [
        r for r, route in site.patrol.routes.items() if route.stops[0].checkpoint == checkpoint
    ]
    if not routes:
        return None, Verdict.NOT_ON_ROUTE
    chosen, slot = routes[0], None
    for route_id in routes:
        found = _open_slot(work, site, route_id, at)
        if found is not None and (slot is None or abs(found - at) < abs(slot - at)):
            chosen, slot = route_id, found
    route = site.patrol.routes[chosen]
    verdict = Verdict.EARLY if slot is not None and at < slot else Verdict.ON_TIME
    tour = PatrolTour(
        site=site.id,
        route=chosen,
        guard=guard,
        scheduled_at=slot,
        started_at=at,
        last_tap_at=at,
        status=TourStatus.IN_PROGRESS,
        lone_alarm=False,
    )
    window = minutes(site.patrol.start_window(route))
    expected = slot if slot is not None else at
    first = PatrolVisit(
        position=0,
        checkpoint=checkpoint,
        expected_at=expected,
        window_from=expected - window if slot is not None else at,
        window_to=expected + window if slot is not None else at,
        due_by=expected + window if slot is not None else at,
        tapped_at=at,
        verdict=verdict,
    )
    tour.visits.append(first)
    grace = minutes(site.patrol.grace(route))
    for position, stop in enumerate(route.stops[1:], start=1):
        tour.visits.append(
            PatrolVisit(
                position=position,
                checkpoint=stop.checkpoint,
                expected_at=at,
                window_from=at,
                window_to=at,
                due_by=at + grace,
                verdict=Verdict.PENDING,
            )
        )
    replan(site, tour, 0)
    work.session.add(tour)
    work.session.flush()  # the tour's id, for its taps
    alarms.clear(work, alarms.route_source(site, chosen), alarms.NOT_STARTED, at)
    if len(route.stops) == 1:
        finish(work, site, tour, at)
    return tour, verdict


def replan(site: Site, tour: PatrolTour, after: int) -> None:
    """Expect every pending checkpoint after position `after` from the latest tap before it:
    each one is due its walking time after the one before (tapped, or else expected)."""
    route = site.patrol.routes[tour.route]
    grace = minutes(site.patrol.grace(route))
    visits = sorted(tour.visits, key=lambda v: v.position)
    anchor = visits[after].tapped_at or visits[after].expected_at
    for visit in visits[after + 1 :]:
        stop = route.stops[visit.position]
        expected = anchor + minutes(stop.walk_min)
        if visit.verdict == Verdict.PENDING:
            tolerance = minutes(stop.tolerance_min)
            visit.expected_at = expected
            visit.window_from, visit.window_to = expected - tolerance, expected + tolerance
            visit.due_by = visit.window_to + grace
        anchor = visit.tapped_at or expected


def judge(work: WorkingSet, site: Site, tour: PatrolTour, checkpoint: str, at: datetime) -> str:
    """The verdict of a tap by a guard on tour, and what it does to the tour."""
    route = site.patrol.routes[tour.route]
    pending = [v for v in tour.visits if v.verdict == Verdict.PENDING]
    visit = next((v for v in pending if v.checkpoint == checkpoint), None)
    if visit is None:
        on_route = any(stop.checkpoint == checkpoint for stop in route.stops)
        return REPEAT if on_route else Verdict.NOT_ON_ROUTE
    tour.last_tap_at = at
    if tour.lone_alarm:
        tour.lone_alarm = False
        alarms.clear(
            work, alarms.route_source(site, tour.route, alarms.GUARD_POINT), alarms.LONE_WORKER, at
        )
    source = alarms.checkpoint_source(site, tour.route, checkpoint)
    guard = site.patrol.guards[tour.guard].name if tour.guard else ""
    if visit is not pending[0]:
        verdict = Verdict.OUT_OF_ORDER
        alarms.raise_(work, source, alarms.OUT_OF_ORDER, guard, at)
    elif at < visit.window_from:
        verdict = Verdict.EARLY
    elif at > visit.window_to:
        verdict = Verdict.LATE
        visit.late_s = (at - visit.window_to).total_seconds()
        alarms.raise_(work, source, alarms.LATE, guard, at)
    else:
        verdict = Verdict.ON_TIME
    visit.tapped_at, visit.verdict = at, verdict
    replan(site, tour, visit.position)
    if all(v.verdict != Verdict.PENDING for v in tour.visits):
        finish(work, site, tour, at)
    return verdict


def finish(work: WorkingSet, site: Site, tour: PatrolTour, at: datetime) -> None:
    """No checkpoint of the tour is pending any more: close it, and return its alarms."""
    missed = [v for v in tour.visits if v.verdict == Verdict.MISSED]
    tour.status = TourStatus.INCOMPLETE if missed else TourStatus.COMPLETED
    tour.ended_at = at
    for visit in tour.visits:
        source = alarms.checkpoint_source(site, tour.route, visit.checkpoint)
        for condition in (alarms.MISSED, alarms.LATE, alarms.OUT_OF_ORDER):
            alarms.clear(work, source, condition, at)
    guard_source = alarms.route_source(site, tour.route, alarms.GUARD_POINT)
    alarms.clear(work, guard_source, alarms.LONE_WORKER, at)
    tour.lone_alarm = False
    route_source = alarms.route_source(site, tour.route)
    if missed:
        names = ", ".join(
            site.patrol.checkpoints[v.checkpoint].name or v.checkpoint for v in missed
        )
        alarms.raise_(work, route_source, alarms.INCOMPLETE, f"missed: {names}"[:200], at)
    else:
        alarms.clear(work, route_source, alarms.INCOMPLETE, at)
