"""Pruning of patrol records past their retention (duty and patrol logs: at least a year)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cloud.patrol.tables import PatrolIncident, PatrolTap, PatrolTour, PatrolVisit, TourStatus


def prune_patrol(session: Session, cutoff: datetime) -> dict[str, int]:
    """Delete taps, incidents and finished tours (with their visits) older than `cutoff`."""
    counts = {
        "patrol_taps": _delete(session, delete(PatrolTap).where(PatrolTap.at < cutoff)),
        "patrol_incidents": _delete(
            session, delete(PatrolIncident).where(PatrolIncident.reported_at < cutoff)
        ),
    }
    old = select(PatrolTour.id).where(
        PatrolTour.status != TourStatus.IN_PROGRESS,
        func.coalesce(PatrolTour.ended_at, PatrolTour.created_at) < cutoff,
    )
    # A tap or incident newer than the cutoff keeps its row but loses the link to the old tour.
    for model in (PatrolTap, PatrolIncident):
        session.execute(update(model).where(model.tour_id.in_(old)).values(tour_id=None))
    counts["patrol_visits"] = _delete(
        session, delete(PatrolVisit).where(PatrolVisit.tour_id.in_(old))
    )
    counts["patrol_tours"] = _delete(session, delete(PatrolTour).where(PatrolTour.id.in_(old)))
    return counts


def _delete(session: Session, statement: object) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[call-overload]
