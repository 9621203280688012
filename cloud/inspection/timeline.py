"""A point's value over a window as intervals, and the questions a report asks of it: how long in
a state, when it rose, how many rises a day. Pure functions on plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

UNKNOWN = object()  # no data: neither true nor false


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    value: Any

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Timeline:
    """The value of one point across [start, end): `spans` cover it without overlap; a stretch
    with no data (before the first value, or while the node or device was out) has UNKNOWN."""

    start: datetime
    end: datetime
    spans: list[Span]

    @classmethod
    def of(
        cls,
        start: datetime,
        end: datetime,
        changes: list[tuple[datetime, Any]],
        before: Any = UNKNOWN,
        gaps: list[tuple[datetime, datetime]] | None = None,
    ) -> Timeline:
        """From the value before `start` and the changes in the window (time order)."""
        spans: list[Span] = []
        value, at = before, start
        for when, new in changes:
            if when >= end:
                break
            when = max(when, start)
            if when > at:
                spans.append(Span(at, when, value))
            value, at = new, when
        if end > at:
            spans.append(Span(at, end, value))
        timeline = cls(start, end, spans)
        for gap_start, gap_end in gaps or []:
            timeline = timeline.blank(gap_start, gap_end)
        return timeline

    def blank(self, start: datetime, end: datetime) -> Timeline:
        """The same, with [start, end) unknown (no data then)."""
        spans: list[Span] = []
        for span in self.spans:
            if span.end <= start or span.start >= end:
                spans.append(span)
                continue
            if span.start < start:
                spans.append(Span(span.start, start, span.value))
            spans.append(Span(max(span.start, start), min(span.end, end), UNKNOWN))
            if span.end > end:
                spans.append(Span(end, span.end, span.value))
        return Timeline(self.start, self.end, _merge(spans))

    def where(self, test: Callable[[Any], bool]) -> list[Span]:
        return [s for s in self.spans if s.value is not UNKNOWN and test(s.value)]

    def seconds(self, test: Callable[[Any], bool]) -> float:
        return sum(s.seconds for s in self.where(test))

    def known_seconds(self) -> float:
        return sum(s.seconds for s in self.spans if s.value is not UNKNOWN)

    def share(self, test: Callable[[Any], bool]) -> float | None:
        """Share of the time with data for which `test` holds; None with no data at all."""
        known = self.known_seconds()
        return self.seconds(test) / known if known else None

    def rises(self, test: Callable[[Any], bool]) -> list[datetime]:
        """When `test` became true (from a known false value)."""
        found = []
        for before, after in zip(self.spans, self.spans[1:], strict=False):
            if (
                before.value is not UNKNOWN
                and not test(before.value)
                and after.value is not UNKNOWN
                and test(after.value)
            ):
                found.append(after.start)
        return found

    def value_at(self, moment: datetime) -> Any:
        for span in self.spans:
            if span.start <= moment < span.end:
                return span.value
        return UNKNOWN


def _same(a: Any, b: Any) -> bool:
    if a is UNKNOWN or b is UNKNOWN:
        return a is b
    return bool(a == b)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if span.seconds <= 0:
            continue
        if merged and _same(merged[-1].value, span.value):
            merged[-1] = Span(merged[-1].start, span.end, span.value)
        else:
            merged.append(span)
    return merged


def per_day(moments: list[datetime], days: list[datetime]) -> list[int]:
    """How many of `moments` fall on each day starting at `days` (local midnights, in order)."""
    counts = []
    for index, day in enumerate(days):
        end = days[index + 1] if index + 1 < len(days) else day + timedelta(days=1)
        counts.append(sum(1 for m in moments if day <= m < end))
    return counts
