"""A seeded week of the example pump room: heartbeats, a birth, point changes as the edge would
have stored them, and pressure trends, written straight into the store the report reads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from cloud.inspection.report import compile_week, week_bounds
from cloud.models import StoredMessage
from cloud.telemetry.embedded import SqlTelemetryReader
from cloud.telemetry.tables import RawSample
from simulators.pumproom import healthy_value
from sitewatch.siteconfig import Site

MONDAY = date(2026, 11, 30)  # a whole week in the past of the tests' 2026-12 clock
NODE, STREAM = "pumproom", "week-test-stream"


def _engineering(spec: Any) -> Any:
    """What the edge reports for the simulator's healthy raw value (a state's name)."""
    value = healthy_value(spec)
    return spec.states[value] if spec.states else value


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class PumpRoomWeek:
    sessions: sessionmaker[Session]
    site: Site
    room: str = "pumproom-b2"
    start: datetime = field(init=False)
    end: datetime = field(init=False)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _samples: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start, self.end = week_bounds(self.site, MONDAY)

    def at(self, day: int, hour: float) -> datetime:
        return self.start + timedelta(days=day, hours=hour)

    def _message(self, kind: str, at: datetime, body: dict[str, Any]) -> None:
        seq = next(self._seq)
        payload = {
            "v": 1,
            "site": self.site.id,
            "node": NODE,
            "stream": STREAM,
            "seq": seq,
            "boot": 1,
            "ts": ms(at),
            **body,
        }
        self._rows.append(
            {
                "site": self.site.id,
                "node": NODE,
                "stream": STREAM,
                "seq": seq,
                "boot": 1,
                "kind": kind,
                "source_ts": ms(at),
                "payload": payload,
            }
        )

    def healthy(
        self, pressure: float = 0.60, silent: tuple[datetime, datetime] | None = None
    ) -> None:
        """A birth just before the week, a heartbeat every minute, pressure every 5 minutes."""
        points = [
            {
                "type": "point",
                "device": d.id,
                "point": p,
                "value": _engineering(spec),
                "ts": ms(self.start) - 60_000,
            }
            for d in self.site.nodes[NODE].devices.values()
            for p, spec in d.points.items()
        ]
        self._message(
            "birth",
            self.start - timedelta(minutes=1),
            {"software": "t", "config_hash": "x", "points": points},
        )
        moment = self.start
        while moment < self.end:
            if silent is None or not silent[0] <= moment < silent[1]:
                self._message("event", moment, {"items": [{"type": "heartbeat", "ts": ms(moment)}]})
                if moment.minute % 5 == 0:
                    self.sample("supply-pressure", "pressure", moment, pressure)
            moment += timedelta(minutes=1)

    def change(self, at: datetime, device: str, point: str, value: Any) -> None:
        item = {"type": "point", "device": device, "point": point, "value": value, "ts": ms(at)}
        self._message("event", at, {"items": [item]})

    def sample(self, device: str, point: str, at: datetime, value: float) -> None:
        self._samples.append(
            {
                "site": self.site.id,
                "node": NODE,
                "device": device,
                "point": point,
                "ts": ms(at),
                "value": value,
            }
        )

    def run(
        self,
        device: str,
        at: datetime,
        minutes: float,
        cause: str = "test",
        start_s: float = 20,
        pressure: float | None = 0.62,
    ) -> None:
        """A pump run: the start command, running `start_s` later, stopped after `minutes`."""
        running = at + timedelta(seconds=start_s)
        stop = running + timedelta(minutes=minutes)
        self.change(at, device, "start_cause", cause)
        self.change(running, device, "running", True)
        self.change(stop, device, "running", False)
        self.change(stop + timedelta(seconds=1), device, "start_cause", "none")
        if pressure is not None:
            moment = running
            while moment < stop:
                self.sample("supply-pressure", "pressure", moment, pressure)
                moment += timedelta(seconds=30)

    def report(self, now: datetime | None = None) -> dict[str, Any]:
        with self.sessions.begin() as session:
            if self._rows:
                session.execute(insert(StoredMessage), self._rows)
            if self._samples:
                session.execute(insert(RawSample), self._samples)
        self._rows, self._samples = [], []
        with self.sessions() as session:
            return compile_week(
                session,
                self.site,
                self.room,
                MONDAY,
                SqlTelemetryReader(self.sessions),
                now or datetime(2026, 12, 10, tzinfo=UTC),
            )


def iso(moment: datetime) -> str:
    """A time as the report writes it (UTC)."""
    return moment.astimezone(UTC).isoformat()


def codes(report: dict[str, Any]) -> list[str]:
    return [f["code"] for f in report["findings"]]


def pump(report: dict[str, Any], pump_id: str) -> dict[str, Any]:
    return next(p for p in report["pumps"] if p["id"] == pump_id)
