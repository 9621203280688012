"""The report's charts as SVG, drawn on the server: the week's pressure with the test runs marked,
and the jockey pump's starts per day against its limit. No script, so they print and file."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from cloud.telemetry import Point

WIDTH, HEIGHT, PAD = 720, 220, 40


def _x(moment: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1
    return PAD + (WIDTH - 2 * PAD) * (moment - start).total_seconds() / span


def pressure_chart(
    points: list[Point],
    start: datetime,
    end: datetime,
    runs: list[tuple[datetime, datetime]],
    low: float | None,
    title: str,
) -> str:
    """Minimum–maximum band and average line of a pressure; test runs shaded; the low limit dashed."""
    values = [p.min for p in points] + [p.max for p in points] + ([low] if low else [])
    top, bottom = (max(values) * 1.1, min(0.0, min(values))) if values else (1.0, 0.0)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - bottom) / ((top - bottom) or 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" fill="none" stroke="#999"/>',
    ]
    for run_start, run_end in runs:
        x0, x1 = _x(run_start, start, end), _x(run_end, start, end)
        parts.append(
            f'<rect class="test-run" x="{x0:.1f}" y="{PAD}" width="{max(x1 - x0, 2):.1f}" '
            f'height="{HEIGHT - 2 * PAD}" fill="#4a90d9" opacity="0.3"><title>test run</title></rect>'
        )
    if points:
        band = [f"{_x(p.ts, start, end):.1f},{y(p.max):.1f}" for p in points]
        band += [f"{_x(p.ts, start, end):.1f},{y(p.min):.1f}" for p in reversed(points)]
        parts.append(f'<polygon points="{" ".join(band)}" fill="#bbb" opacity="0.5"/>')
        line = " ".join(f"{_x(p.ts, start, end):.1f},{y(p.avg):.1f}" for p in points)
        parts.append(
            f'<polyline class="pressure" points="{line}" fill="none" stroke="#222" stroke-width="1.2"/>'
        )
    else:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">无数据 No data</text>'
        )
    if low:
        parts.append(
            f'<line class="low-limit" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(low):.1f}" y2="{y(low):.1f}" '
            'stroke="#c00" stroke-dasharray="6 4"/>'
        )
    for value in (bottom, (top + bottom) / 2, top):
        parts.append(
            f'<text x="{PAD - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">{value:.2f}</text>'
        )
    parts.append(f'<text x="{PAD}" y="{PAD - 8}" font-size="12">{escape(title)} (MPa)</text></svg>')
    return "".join(parts)


def jockey_chart(days: list[dict[str, Any]], limit: int, title: str) -> str:
    """Bars of starts per day; a day over the limit in red; the limit dashed."""
    most = max([d["starts"] for d in days] + [limit]) * 1.2 or 1
    slot = (WIDTH - 2 * PAD) / max(len(days), 1)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / most

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for index, day in enumerate(days):
        x = PAD + index * slot + slot * 0.15
        colour = "#c00" if day["over"] else "#4a90d9"
        parts.append(
            f'<rect class="{"over" if day["over"] else "day"}" x="{x:.1f}" y="{y(day["starts"]):.1f}" '
            f'width="{slot * 0.7:.1f}" height="{HEIGHT - PAD - y(day["starts"]):.1f}" fill="{colour}">'
            f"<title>{day['day']}: {day['starts']}</title></rect>"
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" '
            f'font-size="10">{day["day"][5:]} ({day["starts"]})</text>'
        )
    parts.append(
        f'<line class="limit" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" '
        f'stroke="#c00" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="{PAD}" y="{PAD - 8}" font-size="12">{escape(title)} (limit {limit}/day)</text></svg>'
    )
    return "".join(parts)
