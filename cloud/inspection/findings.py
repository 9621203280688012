"""What a weekly report found wrong, each with its severity and the time ranges and alarms behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Finding:
    severity: str  # high, medium, low
    code: str  # e.g. not_in_auto, test_run_short, jockey_over_limit, data_gap
    text: str
    device: str | None = None
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)
    alarm_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "text": self.text,
            "device": self.device,
            "ranges": [[a.isoformat(), b.isoformat()] for a, b in self.ranges],
            "alarm_ids": self.alarm_ids,
        }


SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
