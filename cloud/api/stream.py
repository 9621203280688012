"""The console's live feed: Server-Sent Events with a snapshot, then every alarm change.

On connect the stream sends `snapshot` (every alarm on the console and the KPIs); after that an
`alarm` event for each alarm that changed (one back to normal included, so the page drops it) and
`kpis` whenever the figures move. A `ping` event every 15 s keeps proxies from closing an idle
stream and lets the page notice a connection that died without closing (EventSource hides
comments, so it is an event).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from cloud.api.alarm_views import AlarmFilter, alarms_by_id, list_alarms
from cloud.api.alarms import compute_kpis
from cloud.api.security import EVERYONE

router = APIRouter(tags=["alarms"])
READ = EVERYONE
PING_S = 15.0


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _kpis(request: Request) -> list[dict[str, Any]]:
    with request.app.state.sessions() as session:
        return [k.model_dump(mode="json") for k in compute_kpis(request, session)]


def _snapshot(request: Request) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        alarms = list_alarms(session, AlarmFilter())
    return {"alarms": [a.model_dump(mode="json") for a in alarms], "kpis": _kpis(request)}


def _changed(request: Request, ids: list[int]) -> list[dict[str, Any]]:
    with request.app.state.sessions() as session:
        return [a.model_dump(mode="json") for a in alarms_by_id(session, ids)]


async def _events(request: Request) -> AsyncIterator[str]:
    feed = request.app.state.feed
    with feed.subscribe() as changes:  # before the snapshot: no change falls between the two
        snapshot = await run_in_threadpool(_snapshot, request)
        yield _event("snapshot", snapshot)
        kpis = snapshot["kpis"]
        while True:
            try:
                async with asyncio.timeout(PING_S):
                    got = await changes.get()
            except TimeoutError:
                yield _event("ping", {})
                got = []
            if got is None:
                return  # the service is stopping
            ids = list(got)
            while not changes.empty():  # a burst of changes goes out as one read
                more = changes.get_nowait()
                if more is None:
                    return
                ids.extend(more)
            if ids:
                for alarm in await run_in_threadpool(_changed, request, sorted(set(ids))):
                    yield _event("alarm", alarm)
            latest = await run_in_threadpool(_kpis, request)
            if latest != kpis:
                kpis = latest
                yield _event("kpis", kpis)


@router.get("/api/stream", summary="Live alarm changes (Server-Sent Events)", **READ)
async def stream(request: Request) -> StreamingResponse:
    return StreamingResponse(
        _events(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
