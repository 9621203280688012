"""Compile a pump room's weekly report from a week of data: every section, and the findings
sorted by severity, each with the time ranges and alarms behind it. A week still running is
compiled up to now: the report builds up as the week goes."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.inspection import room as sections
from cloud.inspection.findings import SEVERITY_ORDER, Finding
from cloud.inspection.history import node_week
from cloud.inspection.pumps import Series, analyse_pump
from cloud.models import AlarmEventRecord, AlarmRecord
from cloud.telemetry import TelemetryReader
from sitewatch.inspectionconfig import PumpRoom
from sitewatch.siteconfig import Site


def week_start(site: Site, moment: datetime) -> date:
    """The Monday (site-local) of the week that holds `moment`."""
    local = moment.astimezone(ZoneInfo(site.timezone)).date()
    return local - timedelta(days=local.weekday())


def week_bounds(site: Site, monday: date) -> tuple[datetime, datetime]:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(site.timezone))
    return start, start + timedelta(days=7)


def _analog(room: PumpRoom) -> set[tuple[str, str]]:
    """The trend points a room's report reads."""
    wanted = {(line.device, line.point) for line in room.supply}
    for pump_id, pump in room.pumps.items():
        for pressure in (pump.discharge, pump.suction):
            if pressure is not None:
                wanted.add((pressure.device, pressure.point))
        if pump.kind == "diesel":
            wanted |= {(pump_id, "battery1_v"), (pump_id, "battery2_v"), (pump_id, "fuel_level")}
    return wanted


def _alarms_by_device(
    session: Session, site: Site, node: str, start: datetime, end: datetime
) -> dict[str, list[int]]:
    """The alarms of each device of the node raised in the week, for the findings to link to."""
    rows = session.execute(
        select(AlarmRecord.device, AlarmRecord.id)
        .join(AlarmEventRecord, AlarmEventRecord.alarm_id == AlarmRecord.id)
        .where(
            AlarmRecord.site == site.id,
            AlarmRecord.node == node,
            AlarmEventRecord.event == "raised",
            AlarmEventRecord.at >= start,
            AlarmEventRecord.at < end,
        )
        .distinct()
    )
    found: dict[str, list[int]] = defaultdict(list)
    for device, alarm_id in rows:
        found[device].append(alarm_id)
    return found


def compile_week(
    session: Session, site: Site, room_id: str, monday: date, reader: TelemetryReader, now: datetime
) -> dict[str, Any]:
    room = site.inspection.rooms[room_id]
    start, end = week_bounds(site, monday)
    until = min(end, now)
    week = node_week(session, site, room.node, start, until)
    series: Series = {
        key: reader.series(site.id, room.node, key[0], key[1], start, until)
        for key in sorted(_analog(room))
    }
    days = [start + timedelta(days=n) for n in range(7) if start + timedelta(days=n) < until]
    findings: list[Finding] = []
    pumps = []
    for pump_id, pump in room.pumps.items():
        analysed, found = analyse_pump(pump_id, pump, week, series)
        analysed["name"] = site.nodes[room.node].devices[pump_id].name
        pumps.append(analysed)
        findings += found
    jockey, found = sections.jockey(room, week, days)
    findings += found
    supply, found = sections.supply(room, series)
    findings += found
    valves, found = sections.valves(room, week)
    findings += found
    leaks, found = sections.leaks(site, room, week)
    findings += found
    availability, found = sections.availability(site, room, week)
    findings += found
    alarms = _alarms_by_device(session, site, room.node, start, until)
    for finding in findings:
        finding.alarm_ids = sorted(alarms.get(finding.device or "", []))
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.device or ""))
    return {
        "site": {"id": site.id, "name": site.name},
        "room": room_id,
        "room_name": room.name,
        "week_start": monday.isoformat(),
        "week_end": (monday + timedelta(days=6)).isoformat(),
        "compiled_at": now.isoformat(),
        "complete": now >= end,
        "covers": [start.astimezone(UTC).isoformat(), until.astimezone(UTC).isoformat()],
        "pumps": pumps,
        "jockey": jockey,
        "supply": supply,
        "valves": valves,
        "leaks": leaks,
        "availability": availability,
        "findings": [f.to_json() for f in findings],
        "checklist": [{"id": k, "text": v} for k, v in site.inspection.checklist.items()],
    }
