"""The rest of a pump room's week: the jockey pump's starts per day, supply-line pressures, valves
off their normal position, leak-zone activations, and how much of the week each device was heard."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from cloud.inspection.findings import Finding, minutes
from cloud.inspection.history import NodeWeek
from cloud.inspection.pumps import Series, timeline
from cloud.inspection.timeline import per_day
from cloud.telemetry import Point
from sitewatch.inspectionconfig import PumpRoom
from sitewatch.siteconfig import Site


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def jockey(
    room: PumpRoom, week: NodeWeek, days: list[datetime]
) -> tuple[dict[str, Any] | None, list[Finding]]:
    if room.jockey is None:
        return None, []
    limit = room.jockey.max_starts_per_day
    starts = timeline(week, room.jockey.device, "running").rises(bool)
    counts = per_day(starts, days)
    per = [
        {"day": d.date().isoformat(), "starts": c, "over": c > limit}
        for d, c in zip(days, counts, strict=True)
    ]
    over = [p for p in per if p["over"]]
    findings = []
    if over:
        worst = max(p["starts"] for p in over)
        findings.append(
            Finding(
                "medium",
                "jockey_over_limit",
                f"jockey pump started more than {limit} times a day on {len(over)} day(s) (most {worst}): "
                "a probable leak (跑冒滴漏)",
                room.jockey.device,
                [(d, d + timedelta(days=1)) for d, p in zip(days, per, strict=True) if p["over"]],
            )
        )
    return {"device": room.jockey.device, "limit": limit, "days": per}, findings


def _below(points: list[Point], low: float) -> float:
    """Seconds the trend spent below `low`, each point standing until the next."""
    total = 0.0
    for here, after in itertools.pairwise(points):
        if here.min < low:
            total += (after.ts - here.ts).total_seconds()
    return total


def supply(room: PumpRoom, series: Series) -> tuple[list[dict[str, Any]], list[Finding]]:
    lines, findings = [], []
    for line in room.supply:
        points = series.get((line.device, line.point), [])
        if not points:
            lines.append(
                {
                    "device": line.device,
                    "point": line.point,
                    "low": line.low,
                    "min": None,
                    "avg": None,
                    "max": None,
                    "below_s": None,
                }
            )
            continue
        below = _below(points, line.low)
        lines.append(
            {
                "device": line.device,
                "point": line.point,
                "low": line.low,
                "min": min(p.min for p in points),
                "max": max(p.max for p in points),
                "avg": sum(p.avg for p in points) / len(points),
                "below_s": below,
            }
        )
        if below > 0:
            ranges = [(p.ts, q.ts) for p, q in itertools.pairwise(points) if p.min < line.low]
            findings.append(
                Finding(
                    "high",
                    "pressure_low",
                    f"{line.device}: below {line.low:g} MPa for {minutes(below)}",
                    line.device,
                    _joined(ranges),
                )
            )
    return lines, findings


def _joined(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    joined: list[tuple[datetime, datetime]] = []
    for start, end in ranges:
        if joined and joined[-1][1] >= start:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def valves(room: PumpRoom, week: NodeWeek) -> tuple[list[dict[str, Any]], list[Finding]]:
    found, findings = [], []
    for valve in room.valves:
        off = timeline(week, valve.device, valve.point).where(lambda v, n=valve.normal: v != n)
        found.append(
            {"device": valve.device, "off_normal": [[_iso(s.start), _iso(s.end)] for s in off]}
        )
        if off:
            findings.append(
                Finding(
                    "high",
                    "valve_off_normal",
                    f"{valve.device}: out of its normal "
                    f"position for {minutes(sum(s.seconds for s in off))}",
                    valve.device,
                    [(s.start, s.end) for s in off],
                )
            )
    return found, findings


def leaks(site: Site, room: PumpRoom, week: NodeWeek) -> tuple[list[dict[str, Any]], list[Finding]]:
    found, findings = [], []
    for device in room.leaks:
        zones = [p for p in site.nodes[room.node].devices[device].points if p.startswith("zone")]
        for zone in zones:
            for at in timeline(week, device, zone).rises(bool):
                found.append({"device": device, "zone": zone, "at": _iso(at)})
                findings.append(
                    Finding("high", "leak", f"{device} {zone}: water detected", device, [(at, at)])
                )
    return found, findings


def availability(
    site: Site, room: PumpRoom, week: NodeWeek
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """How much of the week each device of the room was heard; a gap is shown, never taken as fine."""
    span = (week.end - week.start).total_seconds()
    found, findings = [], []
    for device in site.nodes[room.node].devices:
        gaps = _joined(week.gaps(device))
        missing = sum((b - a).total_seconds() for a, b in gaps)
        share = max(0.0, 1 - missing / span)
        found.append(
            {"device": device, "share": share, "gaps": [[_iso(a), _iso(b)] for a, b in gaps]}
        )
        if gaps:
            findings.append(
                Finding(
                    "medium",
                    "data_gap",
                    f"{device}: no data for {minutes(missing)} ({share:.1%} of the week heard)",
                    device,
                    gaps,
                )
            )
    return found, findings
