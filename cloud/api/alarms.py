"""Alarm endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud.alarms.engine import CATEGORY_RANK, PRIORITY_RANK
from cloud.alarms.states import OPEN_STATES
from cloud.api.deps import SessionDep
from cloud.api.schemas import AlarmOut
from cloud.models import AlarmRecord

router = APIRouter(prefix="/api/alarms", tags=["alarms"])


def sort_key(alarm: AlarmRecord) -> tuple:
    """Active before cleared, fire before supervisory before trouble, then priority, newest first."""
    return (
        not alarm.active,
        CATEGORY_RANK.get(alarm.category, 99),
        PRIORITY_RANK.get(alarm.priority, 99),
        -alarm.raised_at.timestamp(),
    )


@router.get("", response_model=list[AlarmOut], summary="Open alarms (or all, with include_closed)")
def list_alarms(
    session: SessionDep,
    active: Annotated[
        bool | None, Query(description="only active (true) or only cleared (false)")
    ] = None,
    category: Annotated[str | None, Query(description="fire, supervisory or trouble")] = None,
    site: str | None = None,
    include_closed: Annotated[bool, Query(description="also alarms back to normal")] = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlarmRecord]:
    query = select(AlarmRecord).order_by(AlarmRecord.raised_at.desc()).limit(limit)
    if not include_closed:
        query = query.where(AlarmRecord.state.in_([s.value for s in OPEN_STATES]))
    if active is not None:
        query = query.where(AlarmRecord.active == active)
    if category is not None:
        query = query.where(AlarmRecord.category == category)
    if site is not None:
        query = query.where(AlarmRecord.site == site)
    return sorted(session.scalars(query), key=sort_key)
