"""Decide whether a point value is abnormal under its profile's alarm rule."""

from __future__ import annotations

from typing import NamedTuple

from sitewatch.siteconfig import AlarmRule, PointSpec
from sitewatch.wire import Value


class Verdict(NamedTuple):
    """The state of one alarm condition of a point: which condition, and whether it is active.
    Named tuples, not frozen dataclasses, here and below: one is made for every value stored,
    and a frozen dataclass's __init__ costs several times as much."""

    condition: str
    active: bool


class Sample(NamedTuple):
    """A point's value and when the device read it (ms since the epoch, the edge's clock)."""

    value: Value
    ts: int


def evaluate(
    spec: PointSpec,
    value: Value,
    currently_active: dict[str, bool],
    now: Sample | None = None,
    previous: Sample | None = None,
) -> list[Verdict]:
    """Verdicts for every condition of the point's rule; analog limits clear only past the deadband.

    `currently_active` maps condition → whether the rule holds it active now (before delays).
    A rate of change needs the point's previous sample: without one it is not judged.
    """
    rule: AlarmRule | None = spec.alarm
    if rule is None or value is None:
        return []
    if rule.when is not None:
        return [Verdict("abnormal", _matches(rule.when, value))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    verdicts = []
    if rule.low is not None:
        threshold = rule.low + rule.deadband if currently_active.get("low") else rule.low
        verdicts.append(Verdict("low", value < threshold))
    if rule.high is not None:
        threshold = rule.high - rule.deadband if currently_active.get("high") else rule.high
        verdicts.append(Verdict("high", value > threshold))
    if rule.rate_per_min is not None and now is not None and previous is not None:
        rate = _rate_per_min(previous, now)
        if rate is not None:
            verdicts.append(Verdict("rate", abs(rate) > rule.rate_per_min))
    return verdicts


def _rate_per_min(previous: Sample, now: Sample) -> float | None:
    before = previous.value
    if isinstance(before, bool) or not isinstance(before, int | float) or now.ts <= previous.ts:
        return None
    return (float(now.value) - before) / ((now.ts - previous.ts) / 60_000)  # type: ignore[arg-type]


def _matches(when: bool | int | str, value: Value) -> bool:
    if isinstance(when, bool):
        return isinstance(value, bool) and value is when
    return value == when
