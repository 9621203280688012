"""Weekly pump-room inspections: each room's live status, this week's report as it builds up, the
engineer's sign-off (sealed, never changed), the history, charts and the print-ready report."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Day, NowDep, SessionDep, SiteDep
from cloud.api.operator import OperatorDep
from cloud.api.refusals import never_changed, refuse_changes
from cloud.api.security import allow
from cloud.api.telemetry import telemetry_reader
from cloud.auth.roles import CONTROL_ROOM, Role
from cloud.inspection import charts, printable
from cloud.inspection.report import compile_week, week_bounds, week_start
from cloud.inspection.signoff import SignRefused, sign, signed
from cloud.inspection.tables import SignedInspection
from cloud.models import PointRecord
from cloud.records.tables import SealedRecord
from cloud.telemetry import TelemetryReader
from sitewatch.inspectionconfig import PumpRoom
from sitewatch.siteconfig import Site

router = APIRouter(prefix="/api/inspection", tags=["inspection"])
READ = allow(*CONTROL_ROOM)
WRITE = allow(Role.ENGINEER)
ReaderDep = Annotated[TelemetryReader, Depends(telemetry_reader)]
Room = Annotated[str, Path(description="a pump room id of the site file's inspection section")]
Week = Annotated[Day, Path(description="the Monday (site-local) the week begins")]
SEALED = "a signed inspection is sealed and never changes"


class ChecklistAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    note: str | None = Field(default=None, max_length=1000)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Bounded: a site's checklist has a handful of items; unknown ones are refused by name.
    checklist: dict[str, ChecklistAnswer] = Field(
        max_length=100, description="every checklist item, answered"
    )
    notes: str | None = Field(default=None, max_length=4000)


def _room(site: Site, room: str) -> None:
    if room not in site.inspection.rooms:
        known = ", ".join(sorted(site.inspection.rooms)) or "none"
        raise HTTPException(404, f"pump room {room!r} is not configured (rooms: {known})")


def _monday(day: date) -> date:
    if day.weekday() != 0:
        raise HTTPException(422, f"{day} is not a Monday: a week is named by its Monday")
    return day


def _signed_out(session: Session, found: SignedInspection) -> dict[str, Any]:
    seal = session.get(SealedRecord, found.sealed_id)
    return {
        "engineer": found.engineer,
        "signed_at": found.signed_at.isoformat(),
        "notes": found.notes,
        "checklist": found.checklist,
        "seal": {"seq": seal.seq, "hash": seal.hash, "prev_hash": seal.prev_hash} if seal else None,
    }


@router.get(
    "/rooms", summary="Pump rooms: every pump, valve and pressure now, and this week", **READ
)
def rooms(site: SiteDep, session: SessionDep, now: NowDep) -> list[dict[str, Any]]:
    this_week = week_start(site, now)
    found = []
    for room_id, room in site.inspection.rooms.items():
        values = session.scalars(
            select(PointRecord).where(PointRecord.site == site.id, PointRecord.node == room.node)
        )
        devices: dict[str, dict[str, Any]] = {}
        for point in values:
            devices.setdefault(point.device, {})[point.point] = {
                "value": point.value,
                "quality": point.quality,
            }
        last = this_week - timedelta(days=7)
        found.append(
            {
                "id": room_id,
                "name": room.name,
                "node": room.node,
                "pumps": list(room.pumps),
                "devices": [
                    {
                        "id": d,
                        "name": site.nodes[room.node].devices[d].name,
                        **_part(room, d),
                        "points": devices.get(d, {}),
                    }
                    for d in site.nodes[room.node].devices
                ],
                "week": this_week.isoformat(),
                "this_week_signed": signed(session, site.id, room_id, this_week) is not None,
                "last_week": last.isoformat(),
                "last_week_signed": signed(session, site.id, room_id, last) is not None,
            }
        )
    return found


def _part(room: PumpRoom, device: str) -> dict[str, Any]:
    """What a device is in the room, so a page need not guess from point names."""
    if device in room.pumps:
        pump = room.pumps[device]
        return {"part": "pump", "pump_kind": pump.kind, "pump_role": pump.role}
    if room.jockey is not None and room.jockey.device == device:
        return {"part": "jockey", "max_starts_per_day": room.jockey.max_starts_per_day}
    valves = [v for v in room.valves if v.device == device]
    if valves:
        return {"part": "valve", "point": valves[0].point, "normal": valves[0].normal}
    lines = [line for line in room.supply if line.device == device]
    if lines:
        return {"part": "supply", "point": lines[0].point, "low": lines[0].low}
    return {"part": "leak"} if device in room.leaks else {"part": "other"}


def _report(
    site: Site, session: Session, reader: TelemetryReader, room: str, monday: date, now: datetime
) -> dict[str, Any]:
    _room(site, room)
    found = signed(session, site.id, room, monday)
    if found is not None:
        return {"report": found.report, "signed": _signed_out(session, found)}
    if week_bounds(site, monday)[0] > now:
        raise HTTPException(404, f"the week of {monday} has not begun")
    return {"report": compile_week(session, site, room, monday, reader, now), "signed": None}


@router.get(
    "/rooms/{room}/weeks/{monday}", summary="A week's report: as signed, or as it builds up", **READ
)
def week_report(
    site: SiteDep, session: SessionDep, reader: ReaderDep, now: NowDep, room: Room, monday: Week
) -> dict[str, Any]:
    return _report(site, session, reader, room, _monday(monday), now)


@router.get("/rooms/{room}/current", summary="This week's report so far", **READ)
def current(
    site: SiteDep, session: SessionDep, reader: ReaderDep, now: NowDep, room: Room
) -> dict[str, Any]:
    return _report(site, session, reader, room, week_start(site, now), now)


@router.post(
    "/rooms/{room}/weeks/{monday}/sign",
    status_code=201,
    responses={409: {"description": "refused"}},
    summary="The engineer signs the week: checklist, notes, signature; sealed",
    **WRITE,
)
def sign_week(
    site: SiteDep,
    session: SessionDep,
    reader: ReaderDep,
    now: NowDep,
    engineer: OperatorDep,
    room: Room,
    monday: Week,
    body: SignIn,
) -> dict[str, Any]:
    _room(site, room)
    answers = {item: answer.model_dump() for item, answer in body.checklist.items()}
    try:
        found = sign(
            session, site, room, _monday(monday), engineer, answers, body.notes, reader, now
        )
        session.commit()
    except SignRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return {"report": found.report, "signed": _signed_out(session, found)}


def never_change(room: Room, monday: Week) -> None:
    raise never_changed(SEALED)


refuse_changes(router, "/rooms/{room}/weeks/{monday}", never_change, SEALED, **WRITE)


@router.get("/rooms/{room}/history", summary="Weekly reports, newest first, signed or not", **READ)
def history(
    site: SiteDep, session: SessionDep, now: NowDep, room: Room, weeks: int = 12
) -> list[dict[str, Any]]:
    _room(site, room)
    monday = week_start(site, now)
    found = []
    for back in range(max(1, min(weeks, 104))):
        week = monday - timedelta(days=7 * back)
        done = signed(session, site.id, room, week)
        _, end = week_bounds(site, week)
        overdue = done is None and now >= end + timedelta(days=site.inspection.grace_days)
        found.append(
            {
                "week": week.isoformat(),
                "signed": done is not None,
                "overdue": overdue,
                "engineer": done.engineer if done else None,
                "signed_at": done.signed_at.isoformat() if done else None,
                "findings": len(done.report["findings"]) if done else None,
            }
        )
    return found


def _charts(
    site: Site, reader: TelemetryReader, room: str, report: dict[str, Any], now: datetime
) -> list[str]:
    config = site.inspection.rooms[room]
    start, end = week_bounds(site, date.fromisoformat(report["week_start"]))
    drawn = []
    runs = []
    for pump in report["pumps"]:
        for start_ in pump["starts"]:
            if start_["cause"] == "test":
                at = _dt(start_["at"])
                runs.append((at, at + timedelta(seconds=start_["run_s"])))
    for line in config.supply:
        points = reader.series(site.id, config.node, line.device, line.point, start, min(end, now))
        drawn.append(
            charts.pressure_chart(
                points, start, end, runs, line.low, f"{line.device} 压力 pressure"
            )
        )
    if report["jockey"] is not None:
        drawn.append(
            charts.jockey_chart(
                report["jockey"]["days"],
                report["jockey"]["limit"],
                "稳压泵每日启动 Jockey starts per day",
            )
        )
    return drawn


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


@router.get(
    "/rooms/{room}/weeks/{monday}/chart/{name}.svg",
    summary="A chart of the week (SVG)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    **READ,
)
def chart(
    site: SiteDep,
    session: SessionDep,
    reader: ReaderDep,
    now: NowDep,
    room: Room,
    monday: Week,
    name: str,
) -> Response:
    report = _report(site, session, reader, room, _monday(monday), now)["report"]
    drawn = _charts(site, reader, room, report, now)
    index = {"pressure": 0, "jockey": len(drawn) - 1}.get(name)
    if index is None or not drawn:
        raise HTTPException(404, f"no chart {name!r}: pressure or jockey")
    return Response(drawn[index], media_type="image/svg+xml")


@router.get(
    "/rooms/{room}/weeks/{monday}/print",
    response_class=HTMLResponse,
    summary="The print-ready report (one HTML file, charts inline)",
    **READ,
)
def print_ready(
    site: SiteDep,
    session: SessionDep,
    reader: ReaderDep,
    now: NowDep,
    room: Room,
    monday: Week,
    download: bool = False,
) -> HTMLResponse:
    found = _report(site, session, reader, room, _monday(monday), now)
    drawn = _charts(site, reader, room, found["report"], now)
    html = printable.render(found["report"], drawn, found["signed"])
    headers = (
        {"Content-Disposition": f'attachment; filename="inspection-{room}-{monday}.html"'}
        if download
        else {}
    )
    return HTMLResponse(html, headers=headers)
