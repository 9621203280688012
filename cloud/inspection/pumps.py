"""Each fire or sprinkler pump's week: AUTO share, power, starts with their causes, the weekly
test run judged against NFPA 25 and GB 50974, and a diesel's batteries, fuel and crank failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cloud.inspection.findings import Finding, minutes
from cloud.inspection.history import NodeWeek
from cloud.inspection.timeline import UNKNOWN, Timeline
from cloud.telemetry import Point
from sitewatch.inspectionconfig import MIN_FUEL_PCT, NFPA25_RUN_MIN, Pressure, Pump

Series = dict[tuple[str, str], list[Point]]  # (device, point) → the week's trend


def timeline(week: NodeWeek, device: str, point: str) -> Timeline:
    return Timeline.of(
        week.start,
        week.end,
        week.changes.get((device, point), []),
        week.before.get((device, point), UNKNOWN),
        week.gaps(device),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _starts(running: Timeline, cause: Timeline, pump: Pump) -> list[dict[str, Any]]:
    """Every start: its cause, how long it ran, and how long after its command it was running."""
    starts = []
    stops = running.rises(lambda v: not v)
    for rise in running.rises(bool):
        stop = next((s for s in stops if s > rise), None)
        reason = cause.value_at(rise)
        commanded = next(
            (
                c
                for c in reversed(cause.rises(lambda v: v not in (None, "none")))
                if c <= rise and rise - c <= timedelta(seconds=10 * pump.start_within_s)
            ),
            None,
        )
        starts.append(
            {
                "at": rise,
                "cause": reason if isinstance(reason, str) else "unknown",
                "run_s": ((stop or running.end) - rise).total_seconds(),
                "stopped": stop is not None,
                "start_s": (rise - commanded).total_seconds() if commanded else 0.0,
            }
        )
    return starts


def _band(pressure: Pressure, points: list[Point]) -> dict[str, Any]:
    low = pressure.baseline * (1 - pressure.band_pct / 100)
    high = pressure.baseline * (1 + pressure.band_pct / 100)
    if not points:
        return {
            "device": pressure.device,
            "min": None,
            "max": None,
            "low": low,
            "high": high,
            "ok": False,
            "why": "no pressure data during the run",
        }
    least, most = min(p.min for p in points), max(p.max for p in points)
    ok = low <= least and most <= high
    why = None if ok else f"{least:.3f}–{most:.3f} MPa, outside {low:.3f}–{high:.3f} MPa"
    return {
        "device": pressure.device,
        "min": least,
        "max": most,
        "low": low,
        "high": high,
        "ok": ok,
        "why": why,
    }


def _judge(
    pump_id: str, pump: Pump, starts: list[dict[str, Any]], series: Series
) -> tuple[dict[str, Any] | None, list[Finding]]:
    tests = [s for s in starts if s["cause"] == "test"]
    if not tests:
        manual = [s for s in starts if s["cause"] == "manual"]
        hint = f"; {len(manual)} manual run(s) do not count" if manual else ""
        return None, [
            Finding(
                "high",
                "test_run_missing",
                f"{pump_id}: no automatic weekly test run{hint}",
                pump_id,
            )
        ]
    run = max(tests, key=lambda s: s["run_s"])
    end = run["at"] + timedelta(seconds=run["run_s"])
    reasons: list[str] = []
    if run["run_s"] < pump.run_min * 60:
        reasons.append(
            f"ran {minutes(run['run_s'])}, less than the {pump.run_min:g} min required (NFPA 25)"
        )
    if run["start_s"] > pump.start_within_s:
        reasons.append(
            f"took {run['start_s']:.0f} s to run, more than {pump.start_within_s:.0f} s (GB 50974)"
        )
    pressures = {}
    for side in ("discharge", "suction"):
        pressure: Pressure | None = getattr(pump, side)
        if pressure is None:
            continue
        points = [
            p for p in series.get((pressure.device, pressure.point), []) if run["at"] <= p.ts < end
        ]
        pressures[side] = _band(pressure, points)
        if not pressures[side]["ok"]:
            reasons.append(f"{side} pressure: {pressures[side]['why']}")
    verdict = {
        "at": _iso(run["at"]),
        "run_min": round(run["run_s"] / 60, 2),
        "start_s": round(run["start_s"], 1),
        "automatic": True,
        "long_enough": run["run_s"] >= pump.run_min * 60,
        "started_in_time": run["start_s"] <= pump.start_within_s,
        "pressures": pressures,
        "required_min": pump.run_min,
        "passed": not reasons,
        "reasons": reasons,
    }
    findings = []
    if reasons:
        findings.append(
            Finding(
                "high",
                "test_run_failed",
                f"{pump_id}: weekly test run failed: " + "; ".join(reasons),
                pump_id,
                [(run["at"], end)],
            )
        )
    return verdict, findings


def analyse_pump(
    pump_id: str, pump: Pump, week: NodeWeek, series: Series
) -> tuple[dict[str, Any], list[Finding]]:
    findings: list[Finding] = []
    auto = timeline(week, pump_id, "in_auto")
    manual = auto.where(lambda v: not v)
    auto_share = auto.share(bool)
    if manual:
        total = sum(s.seconds for s in manual)
        findings.append(
            Finding(
                "high",
                "not_in_auto",
                f"{pump_id}: not in AUTO for {minutes(total)}",
                pump_id,
                [(s.start, s.end) for s in manual],
            )
        )
    result: dict[str, Any] = {
        "id": pump_id,
        "kind": pump.kind,
        "role": pump.role,
        "auto_share": auto_share,
        "manual": [[_iso(s.start), _iso(s.end)] for s in manual],
    }
    if pump.kind == "electric":
        power = timeline(week, pump_id, "power_available")
        phase = timeline(week, pump_id, "phase_failure").rises(bool)
        result.update(power_share=power.share(bool), phase_failures=[_iso(t) for t in phase])
        lost = power.where(lambda v: not v)
        if lost:
            findings.append(
                Finding(
                    "high",
                    "power_lost",
                    f"{pump_id}: power lost for {minutes(sum(s.seconds for s in lost))}",
                    pump_id,
                    [(s.start, s.end) for s in lost],
                )
            )
        if phase:
            findings.append(
                Finding(
                    "high",
                    "phase_failure",
                    f"{pump_id}: {len(phase)} phase failure(s)",
                    pump_id,
                    [(t, t) for t in phase],
                )
            )
    starts = _starts(
        timeline(week, pump_id, "running"), timeline(week, pump_id, "start_cause"), pump
    )
    result["starts"] = [{**s, "at": _iso(s["at"])} for s in starts]
    result["test_run"], judged = _judge(pump_id, pump, starts, series)
    findings += judged
    if pump.min_run_min is not None and pump.min_run_min < NFPA25_RUN_MIN[pump.kind]:
        findings.append(
            Finding(
                "low",
                "test_minimum_lowered",
                f"{pump_id}: test-run minimum set to "
                f"{pump.min_run_min:g} min, below NFPA 25's {NFPA25_RUN_MIN[pump.kind]:g}",
                pump_id,
            )
        )
    if pump.kind == "diesel":
        result["diesel"], diesel_findings = _diesel(pump_id, pump, week, series)
        findings += diesel_findings
    return result, findings


def _diesel(
    pump_id: str, pump: Pump, week: NodeWeek, series: Series
) -> tuple[dict[str, Any], list[Finding]]:
    findings = []
    lows = {}
    for battery in ("battery1_v", "battery2_v"):
        points = series.get((pump_id, battery), [])
        lows[battery] = min((p.min for p in points), default=None)
        if lows[battery] is not None and lows[battery] < pump.battery_low_v:
            findings.append(
                Finding(
                    "medium",
                    "battery_low",
                    f"{pump_id}: {battery} fell to "
                    f"{lows[battery]:.1f} V (below {pump.battery_low_v:g} V)",
                    pump_id,
                )
            )
    fuel = series.get((pump_id, "fuel_level"), [])
    fuel_min = min((p.min for p in fuel), default=None)
    if fuel_min is not None and fuel_min < MIN_FUEL_PCT:
        findings.append(
            Finding(
                "high",
                "fuel_low",
                f"{pump_id}: fuel fell to {fuel_min:.0f} % (keep at least two-thirds)",
                pump_id,
            )
        )
    cranks = timeline(week, pump_id, "crank_failure").rises(bool)
    if cranks:
        findings.append(
            Finding(
                "high",
                "crank_failure",
                f"{pump_id}: {len(cranks)} crank failure(s)",
                pump_id,
                [(t, t) for t in cranks],
            )
        )
    return {
        "battery_min_v": lows,
        "fuel_min_pct": fuel_min,
        "crank_failures": [_iso(t) for t in cranks],
    }, findings
