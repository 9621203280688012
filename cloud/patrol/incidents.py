"""Incidents found on patrol (发现重大情况必须立即上报): recorded against a checkpoint and a tour;
a major one raises an alarm in the control room at once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from cloud.patrol import alarms
from cloud.patrol.tables import PatrolIncident, PatrolTour
from cloud.working_set import WorkingSet
from sitewatch.siteconfig import Site


class IncidentCategory(StrEnum):
    LEAK = "leak"
    DAMAGE = "damage"
    SUSPICIOUS_PERSON = "suspicious_person"
    FIRE_HAZARD = "fire_hazard"
    OTHER = "other"


# Reported to the control room as an alarm unless the reporter says otherwise.
MAJOR_BY_DEFAULT = {
    IncidentCategory.LEAK,
    IncidentCategory.SUSPICIOUS_PERSON,
    IncidentCategory.FIRE_HAZARD,
}


class IncidentRefused(ValueError):
    """The incident names a checkpoint or tour that does not exist, or they do not match."""


def report_incident(
    session: Session,
    site: Site,
    checkpoint: str,
    category: IncidentCategory,
    notes: str,
    by: str,
    at: datetime,
    tour_id: int | None = None,
    major: bool | None = None,
) -> PatrolIncident:
    """Record an incident; raise its alarm if it is major. Raises `IncidentRefused`."""
    if checkpoint not in site.patrol.checkpoints:
        raise IncidentRefused(f"checkpoint {checkpoint!r} is not configured in site {site.id!r}")
    if tour_id is not None:
        tour = session.get(PatrolTour, tour_id)
        if tour is None or tour.site != site.id:
            raise IncidentRefused(f"tour {tour_id} does not exist in site {site.id!r}")
        if tour.route in site.patrol.routes and all(
            stop.checkpoint != checkpoint for stop in site.patrol.routes[tour.route].stops
        ):
            raise IncidentRefused(f"checkpoint {checkpoint!r} is not on tour {tour_id}'s route")
    is_major = category in MAJOR_BY_DEFAULT if major is None else major
    incident = PatrolIncident(
        site=site.id,
        tour_id=tour_id,
        checkpoint=checkpoint,
        category=category.value,
        major=is_major,
        notes=notes,
        reported_by=by,
        reported_at=at,
    )
    session.add(incident)
    if is_major:
        work = WorkingSet(session, {site.id: site})
        source = alarms.place_source(site, alarms.INCIDENTS_DEVICE, checkpoint)
        summary = f"{category.value.replace('_', ' ')}: {notes}"[:200]
        alarms.pulse(work, source, alarms.INCIDENT, summary, at)
        work.flush()
        alarm = work.alarm(source.key, alarms.INCIDENT.name)
        incident.alarm_id = alarm.id if alarm is not None else None
    session.flush()
    return incident
