"""The control-room console: the live alarm list, the alarm detail page, the patrol board, the
printable patrol report, the parking booth and card page, the printable parking day report, the
duty page (log and handover), the printable handover record, the duty history, the pump-room
inspection pages and their static assets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from cloud.console import STATIC_DIR

router = APIRouter(include_in_schema=False)

# The pages are plain files; all data comes from the JSON API and the SSE stream, so nothing
# here touches the database. StaticFiles does the path-traversal checks, ETags and 304s.
_assets = StaticFiles(directory=STATIC_DIR)

# Revalidate on every load (cheap with the ETag), so a new release's modules are never mixed
# with an old cached one in the control room's long-running browser.
_REVALIDATE = {"Cache-Control": "no-cache"}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=_REVALIDATE)


@router.get("/")
def alarm_list_page() -> FileResponse:
    return _page("index.html")


@router.get("/alarms/{alarm_id}")
def alarm_detail_page(alarm_id: int) -> FileResponse:
    return _page("alarm.html")


@router.get("/patrol")
def patrol_board_page() -> FileResponse:
    return _page("patrol.html")


@router.get("/patrol/report")
def patrol_report_page() -> FileResponse:
    return _page("patrol-report.html")


@router.get("/parking")
def parking_page() -> FileResponse:
    return _page("parking.html")


@router.get("/parking/report")
def parking_report_page() -> FileResponse:
    return _page("parking-report.html")


@router.get("/duty")
def duty_page() -> FileResponse:
    return _page("duty.html")


@router.get("/duty/history")
def duty_history_page() -> FileResponse:
    return _page("duty-history.html")


@router.get("/duty/handovers/{handover_id}")
def handover_record_page(handover_id: int) -> FileResponse:
    return _page("duty-record.html")


@router.get("/pumproom")
def pump_rooms_page() -> FileResponse:
    return _page("pumproom.html")


@router.get("/pumproom/{room}")
def pump_room_page(room: str) -> FileResponse:
    return _page("pumproom.html")


@router.get("/pumproom/{room}/weeks/{monday}")
def pump_room_week_page(room: str, monday: str) -> FileResponse:
    return _page("pumproom.html")


@router.get("/console/{path:path}")
async def console_asset(path: str, request: Request) -> Response:
    response = await _assets.get_response(path, request.scope)
    response.headers.update(_REVALIDATE)
    return response
