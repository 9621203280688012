"""The patrol clock: what no tap tells us. A checkpoint whose deadline passed, a guard on tour who
went silent, a scheduled tour whose start window closed with nobody on it.

Run every second or so by each ingest worker, in its own transaction; every step only moves rows
that are still due, so two workers ticking at once do the work once (the loser's commit fails
on the tour's version or the slot's unique key, and its next tick finds nothing left to do).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.patrol import alarms
from cloud.patrol.schedule import starts_between
from cloud.patrol.tables import PatrolTour, PatrolVisit, TourStatus, Verdict
from cloud.patrol.tours import finish, minutes
from cloud.working_set import WorkingSet
from sitewatch.siteconfig import Site

# How far back a closed start window is still reported when the clock first runs: slots that
# closed while no cloud was running come up once it is back, but not a whole day of them.
LOOKBACK = timedelta(hours=2)
_TICK = timedelta(microseconds=1)  # starts_between's end is exclusive; a window closing now counts


def tick(session: Session, sites: dict[str, Site], now: datetime, since: datetime) -> int:
    """Bring patrol up to `now`; `since`: when this cloud began watching. Returns changes made."""
    work = WorkingSet(session, sites)
    changed = _missed(work, sites, now) + _silent(work, sites, now)
    for site in sites.values():
        changed += _not_started(work, site, now, since)
    work.flush()
    return changed


def _guard_name(site: Site, tour: PatrolTour) -> str:
    guard = site.patrol.guards.get(tour.guard or "")
    return guard.name if guard else (tour.guard or "")


def _missed(work: WorkingSet, sites: dict[str, Site], now: datetime) -> int:
    overdue = (
        select(PatrolVisit)
        .join(PatrolTour)
        .where(
            PatrolTour.status == TourStatus.IN_PROGRESS,
            PatrolVisit.verdict == Verdict.PENDING,
            PatrolVisit.due_by <= now,
        )
        .order_by(PatrolVisit.tour_id, PatrolVisit.position)
    )
    changed = 0
    for visit in list(work.session.scalars(overdue)):
        tour = visit.tour
        site = sites.get(tour.site)
        if site is None or tour.route not in site.patrol.routes:
            continue  # a route taken out of the site file: its old tours are history
        visit.verdict = Verdict.MISSED
        source = alarms.checkpoint_source(site, tour.route, visit.checkpoint)
        alarms.raise_(work, source, alarms.MISSED, _guard_name(site, tour), visit.due_by)
        if all(v.verdict != Verdict.PENDING for v in tour.visits):
            finish(work, site, tour, visit.due_by)
        changed += 1
    return changed


def _silent(work: WorkingSet, sites: dict[str, Site], now: datetime) -> int:
    """Lone-worker protection: a guard on tour who has tapped nowhere for too long."""
    on_tour = select(PatrolTour).where(
        PatrolTour.status == TourStatus.IN_PROGRESS, PatrolTour.lone_alarm.is_(False)
    )
    changed = 0
    for tour in work.session.scalars(on_tour):
        site = sites.get(tour.site)
        if site is None or tour.route not in site.patrol.routes or tour.last_tap_at is None:
            continue
        limit = minutes(site.patrol.lone_worker(site.patrol.routes[tour.route]))
        if now - tour.last_tap_at >= limit:
            tour.lone_alarm = True
            source = alarms.route_source(site, tour.route, alarms.GUARD_POINT)
            alarms.raise_(work, source, alarms.LONE_WORKER, _guard_name(site, tour), now)
            changed += 1
    return changed


def _not_started(work: WorkingSet, site: Site, now: datetime, since: datetime) -> int:
    changed = 0
    for route_id, route in site.patrol.routes.items():
        window = minutes(site.patrol.start_window(route))
        # Slots whose start window closed in (lower, now]: s + window in that range.
        lower = max(since, now - LOOKBACK)
        slots = starts_between(
            site.id, route_id, route, site.timezone, lower - window, now - window + _TICK
        )
        slots = [s for s in slots if lower < s + window <= now]
        if not slots:
            continue
        taken = set(
            work.session.scalars(
                select(PatrolTour.scheduled_at).where(
                    PatrolTour.site == site.id,
                    PatrolTour.route == route_id,
                    PatrolTour.scheduled_at.in_(slots),
                )
            )
        )
        for slot in slots:
            if slot in taken:
                continue
            work.session.add(
                PatrolTour(
                    site=site.id,
                    route=route_id,
                    scheduled_at=slot,
                    ended_at=slot + window,
                    status=TourStatus.NOT_STARTED,
                    lone_alarm=False,
                )
            )
            local = slot.astimezone(ZoneInfo(site.timezone)).strftime("%H:%M")
            source = alarms.route_source(site, route_id)
            alarms.raise_(work, source, alarms.NOT_STARTED, f"due {local}", slot + window)
            changed += 1
    return changed
