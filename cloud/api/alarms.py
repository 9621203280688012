"""Alarm endpoints: the list, one alarm's detail, the KPIs, and every operator action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cloud.alarms import actions, kpis, lifecycle
from cloud.alarms.states import AlarmState, IllegalTransition
from cloud.api.alarm_schemas import (
    AcknowledgedMany,
    AcknowledgeManyIn,
    AlarmDetail,
    AlarmOut,
    ChatteringOut,
    CommentIn,
    HistoryLine,
    KpisOut,
    NoteIn,
    ReasonIn,
    Refused,
    ShelveIn,
    StaleOut,
)
from cloud.api.alarm_views import AlarmFilter, alarms_by_id, list_alarms, recent_values
from cloud.api.deps import IdPath, SessionDep
from cloud.api.operator import OperatorDep
from cloud.api.security import EVERYONE, allow
from cloud.api.telemetry import telemetry_reader
from cloud.auth.roles import Role
from cloud.models import AlarmEventRecord, AlarmRecord, utcnow

router = APIRouter(prefix="/api/alarms", tags=["alarms"])
READ = EVERYONE
WRITE = allow(Role.OPERATOR, Role.ENGINEER)
ATTEMPTS = 3  # an action racing an ingest batch on the same alarm is simply tried again

Category = Annotated[str | None, Query(description="fire, supervisory or trouble")]
States = Annotated[list[AlarmState] | None, Query(description="repeat for several")]


@router.get(
    "", response_model=list[AlarmOut], summary="Alarms on the console, in display order", **READ
)
def get_alarms(
    session: SessionDep,
    site: str | None = None,
    area: Annotated[str | None, Query(description="the equipment's location")] = None,
    category: Category = None,
    state: States = None,
    include_normal: Annotated[bool, Query(description="also alarms back to normal")] = False,
    active: Annotated[bool | None, Query(description="condition present (or not) now")] = None,
) -> list[AlarmOut]:
    states = tuple(s.value for s in state or ())
    wanted = AlarmFilter(site, area, category, states, include_normal, active)
    return list_alarms(session, wanted)


@router.get("/kpis", response_model=list[KpisOut], summary="EEMUA 191 figures per site", **READ)
def get_kpis(request: Request, session: SessionDep, site: str | None = None) -> list[KpisOut]:
    return compute_kpis(request, session, site)


def compute_kpis(request: Request, session: SessionDep, site: str | None = None) -> list[KpisOut]:
    sites = [site] if site is not None else sorted(request.app.state.sites)
    return [
        KpisOut(
            site=k.site,
            last_10_min=k.last_10_min,
            flood=k.flood,
            chattering=[ChatteringOut(**vars(c)) for c in k.chattering],
            stale=[StaleOut(**vars(s)) for s in k.stale],
        )
        for k in kpis.compute(session, sites, utcnow())
    ]


@router.get("/{alarm_id}", response_model=AlarmDetail, summary="One alarm with its history", **READ)
def get_alarm(request: Request, session: SessionDep, alarm_id: IdPath) -> AlarmDetail:
    alarm = _alarm_or_404(session, alarm_id)
    lines = session.scalars(
        select(AlarmEventRecord)
        .where(AlarmEventRecord.alarm_id == alarm_id)
        .order_by(AlarmEventRecord.id)
    )
    return AlarmDetail(
        alarm=alarms_by_id(session, [alarm.id])[0],
        history=[HistoryLine.model_validate(line) for line in lines],
        recent_values=recent_values(session, alarm, reader=telemetry_reader(request)),
    )


def _alarm_or_404(session: SessionDep, alarm_id: IdPath) -> AlarmRecord:
    try:
        return actions.get_alarm(session, alarm_id)
    except actions.UnknownAlarm as exc:
        raise HTTPException(404, str(exc)) from None


def perform(request: Request, action: Callable[[Session], object]) -> None:
    """Run an operator action in its own transaction and tell the live consoles what changed.
    Illegal transitions answer 409 with their reason, unknown alarms 404."""
    sessions = request.app.state.sessions
    for attempt in range(ATTEMPTS):
        try:
            with sessions.begin() as session:
                action(session)
                session.flush()
                changed = lifecycle.changed_alarms(session)
            break
        except StaleDataError:
            if attempt == ATTEMPTS - 1:
                raise HTTPException(409, "the alarm changed meanwhile; try again") from None
        except actions.UnknownAlarm as exc:
            raise HTTPException(404, str(exc)) from None
        except IllegalTransition as exc:
            raise HTTPException(409, str(exc)) from None
    feed = request.app.state.feed
    if feed is not None:
        feed.publish(changed)


def _act(
    request: Request, alarm_id: IdPath, action: Callable[..., None], *args: object
) -> AlarmOut:
    perform(request, lambda session: action(session, alarm_id, *args))
    with request.app.state.sessions() as session:
        return alarms_by_id(session, [alarm_id])[0]


@router.post("/{alarm_id}/acknowledge", response_model=AlarmOut, **WRITE)
def acknowledge(request: Request, alarm_id: IdPath, body: NoteIn, by: OperatorDep) -> AlarmOut:
    return _act(request, alarm_id, actions.acknowledge, by, utcnow(), body.note)


@router.post("/{alarm_id}/comment", response_model=AlarmOut, **WRITE)
def comment(request: Request, alarm_id: IdPath, body: CommentIn, by: OperatorDep) -> AlarmOut:
    return _act(request, alarm_id, actions.comment, by, utcnow(), body.note)


@router.post("/{alarm_id}/shelve", response_model=AlarmOut, **WRITE)
def shelve(request: Request, alarm_id: IdPath, body: ShelveIn, by: OperatorDep) -> AlarmOut:
    limit = request.app.state.max_shelve_minutes
    return _act(request, alarm_id, actions.shelve, by, utcnow(), body.minutes, body.reason, limit)


@router.post("/{alarm_id}/unshelve", response_model=AlarmOut, **WRITE)
def unshelve(request: Request, alarm_id: IdPath, body: NoteIn, by: OperatorDep) -> AlarmOut:
    return _act(request, alarm_id, actions.unshelve, by, utcnow(), body.note)


@router.post("/{alarm_id}/reset", response_model=AlarmOut, **WRITE)
def reset(request: Request, alarm_id: IdPath, body: NoteIn, by: OperatorDep) -> AlarmOut:
    return _act(request, alarm_id, actions.reset, by, utcnow(), body.note)


@router.post("/{alarm_id}/out-of-service", response_model=AlarmOut, **WRITE)
def out_of_service(request: Request, alarm_id: IdPath, body: ReasonIn, by: OperatorDep) -> AlarmOut:
    return _act(request, alarm_id, actions.take_out_of_service, by, utcnow(), body.reason)


@router.post("/{alarm_id}/return-to-service", response_model=AlarmOut, **WRITE)
def return_to_service(
    request: Request, alarm_id: IdPath, body: NoteIn, by: OperatorDep
) -> AlarmOut:
    return _act(request, alarm_id, actions.return_to_service, by, utcnow(), body.note)


@router.post(
    "/acknowledge", response_model=AcknowledgedMany, summary="Acknowledge several", **WRITE
)
def acknowledge_many(
    request: Request, body: AcknowledgeManyIn, by: OperatorDep
) -> AcknowledgedMany:
    done, refused = [], []
    for alarm_id in dict.fromkeys(body.ids):
        try:
            _act(request, alarm_id, actions.acknowledge, by, utcnow(), body.note)
            done.append(alarm_id)
        except HTTPException as exc:
            refused.append(Refused(id=alarm_id, detail=str(exc.detail)))
    return AcknowledgedMany(acknowledged=done, refused=refused)
