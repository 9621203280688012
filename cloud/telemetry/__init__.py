"""Analog trends: every good numeric value the edges send, kept for charts and reports.

Ingest hands each batch's samples to a `TelemetrySink` inside the batch's transaction; what the
sink does with them (InfluxDB, or the embedded downsampled tables) is its own business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy.orm import Session


class TelemetrySample(NamedTuple):
    """One reading. A named tuple, not a frozen dataclass: ingest makes one for every value it
    stores, and a frozen dataclass's __init__ costs several times as much."""

    site: str
    node: str
    device: str
    point: str
    ts: int  # ms since the epoch, when the edge read it
    value: float


class TelemetrySink(Protocol):
    def store(self, session: Session, samples: list[TelemetrySample]) -> None:
        """Keep these samples; called in the ingest transaction, before it commits. Raising
        fails the batch (it is retried), so a sink that cannot write now must park them."""
        ...


@dataclass(frozen=True)
class Point:
    """A point of a trend: one raw reading (min = avg = max), or the readings of one minute."""

    ts: datetime
    min: float
    avg: float
    max: float


class TelemetryReader(Protocol):
    """How charts, reports and the alarm detail read trends, whichever store is behind."""

    def series(
        self, site: str, node: str, device: str, point: str, start: datetime, end: datetime
    ) -> list[Point]:
        """The point's trend in [start, end), oldest first."""
        ...

    def latest(self, site: str, node: str, device: str, point: str, limit: int) -> list[Point]:
        """The point's newest `limit` trend points, newest first."""
        ...
