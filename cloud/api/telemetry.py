"""Trend endpoint: one point's telemetry over a time span, from whichever store is configured."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from cloud.api.deps import AwareInstant
from cloud.api.security import allow
from cloud.auth.roles import CONTROL_ROOM
from cloud.models import utcnow
from cloud.telemetry import TelemetryReader
from cloud.telemetry.embedded import SqlTelemetryReader

router = APIRouter(prefix="/api/points", tags=["telemetry"])
READ = allow(*CONTROL_ROOM)
DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=366)


class TrendPoint(BaseModel):
    """One reading (min = avg = max), or one minute's readings once rolled up."""

    ts: datetime
    min: float
    avg: float
    max: float


def telemetry_reader(request: Request) -> TelemetryReader:
    """The reader the service put on the app; an app built without one (tests, tools) reads the
    embedded tables of its own database."""
    reader = getattr(request.app.state, "telemetry", None)
    return reader if reader is not None else SqlTelemetryReader(request.app.state.sessions)


@router.get(
    "/{site}/{node}/{device}/{point}/series",
    response_model=list[TrendPoint],
    summary="A point's trend, oldest first",
    **READ,
)
def get_series(
    request: Request,
    site: str,
    node: str,
    device: str,
    point: str,
    start: Annotated[
        AwareInstant | None, Query(description="ISO 8601 with zone; default: end - 24 h")
    ] = None,
    end: Annotated[
        AwareInstant | None, Query(description="ISO 8601 with zone; default: now")
    ] = None,
) -> list[TrendPoint]:
    known = request.app.state.sites.get(site)
    if known is None or known.point(node, device, point) is None:
        raise HTTPException(404, f"point {site}/{node}/{device}/{point} is not configured")
    end = end or utcnow()
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise HTTPException(400, "start must be before end")
    if end - start > MAX_SPAN:
        raise HTTPException(400, f"at most {MAX_SPAN.days} days at a time")
    series = telemetry_reader(request).series(site, node, device, point, start, end)
    return [TrendPoint(ts=p.ts, min=p.min, avg=p.avg, max=p.max) for p in series]
