"""Decide whether a point value is abnormal under its profile's alarm rule."""

from __future__ import annotations

from dataclasses import dataclass

from sitewatch.siteconfig import AlarmRule, PointSpec
from sitewatch.wire import Value


@dataclass(frozen=True)
class Verdict:
    """The state of one alarm condition of a point: which condition, and whether it is active."""

    condition: str
    active: bool


def evaluate(spec: PointSpec, value: Value, currently_active: dict[str, bool]) -> list[Verdict]:
    """Verdicts for every condition of the point's rule; analog limits clear only past the deadband.

    `currently_active` maps condition → whether an alarm for it is active now.
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
    return verdicts


def _matches(when: bool | int | str, value: Value) -> bool:
    if isinstance(when, bool):
        return isinstance(value, bool) and value is when
    return value == when
