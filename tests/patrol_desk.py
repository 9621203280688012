"""A patrol test bench on a real database: a site with one scheduled route, taps fed through the
store as the edge would send them, and the patrol clock driven by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from cloud import store
from cloud.commands import EdgeCommand, take_commands
from cloud.models import AlarmRecord
from cloud.patrol import clock
from cloud.patrol.tables import PatrolTap, PatrolTour
from sitewatch import wire
from sitewatch.patrolconfig import Patrol
from sitewatch.siteconfig import Site

# Monday 2026-12-07 08:00 in Shanghai: the route's scheduled start.
T0 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
ZHANG = "04A1B2C3D4E5F6"
LI = "DEADBEEF"
STREAM = "patrol-test-stream"

PATROL: dict[str, Any] = {
    "start_window_min": 10,
    "grace_min": 3,
    "lone_worker_min": 7,
    "guards": {
        "zhang-wei": {"name": "张伟 Zhang Wei", "badges": [ZHANG]},
        "li-na": {"name": "李娜 Li Na", "badges": [LI]},
    },
    "checkpoints": {
        "b2": {"name": "消防通道 B2", "node": "patrol-north", "reader": "cp-fire-passage-b2"},
        "power": {"name": "配电房", "node": "patrol-north", "reader": "cp-power-room"},
        "lift": {"name": "电梯机房", "node": "patrol-north", "reader": "cp-lift-machine-room"},
        "pump": {"name": "泵房门口", "node": "patrol-south", "reader": "cp-pump-room-door"},
    },
    "routes": {
        "round": {
            "name": "北区巡逻",
            "stops": [
                {"checkpoint": "b2"},
                {"checkpoint": "power", "walk_min": 6, "tolerance_min": 2},
                {"checkpoint": "lift", "walk_min": 8, "tolerance_min": 2},
            ],
            "schedules": [{"at": ["08:00"]}],
        }
    },
}
READERS = {
    "b2": ("patrol-north", "cp-fire-passage-b2"),
    "power": ("patrol-north", "cp-power-room"),
    "lift": ("patrol-north", "cp-lift-machine-room"),
    "pump": ("patrol-south", "cp-pump-room-door"),
}


def patrol_site(base: Site, **changes: Any) -> Site:
    return replace(base, patrol=Patrol.model_validate({**PATROL, **changes}))


@dataclass
class PatrolDesk:
    sessions: sessionmaker[Session]
    site: Site
    since: datetime = T0 - timedelta(hours=1)
    commands: list[EdgeCommand] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def tap(self, checkpoint: str, card: str, at: datetime) -> str:
        """A badge read at a checkpoint's reader at `at`; returns the verdict it got."""
        node, reader = READERS[checkpoint]
        ts = int(at.timestamp() * 1000)
        item = wire.CardTap(reader=reader, card=card, format="uid", ts=ts)
        message = wire.Event(
            site=self.site.id, node=node, stream=STREAM, seq=next(self._seq), boot=1, ts=ts,
            items=[item],
        )  # fmt: skip
        with self.sessions.begin() as session:
            store.apply_one(session, {self.site.id: self.site}, message)
            self.commands.extend(take_commands(session))
            tap = session.scalars(select(PatrolTap).order_by(PatrolTap.id.desc())).first()
            assert tap is not None
            return tap.verdict

    def tick(self, now: datetime) -> int:
        with self.sessions.begin() as session:
            return clock.tick(session, {self.site.id: self.site}, now, self.since)

    def feedback(self) -> list[tuple[str, bool]]:
        return [(c.args["reader"], c.args["ok"]) for c in self.commands if c.name == "feedback"]

    def alarms(self, condition: str | None = None) -> list[AlarmRecord]:
        with self.sessions() as session:
            query = select(AlarmRecord).options(selectinload(AlarmRecord.history))
            query = query.order_by(AlarmRecord.id)
            if condition is not None:
                query = query.where(AlarmRecord.condition == condition)
            return list(session.scalars(query))

    def active(self) -> set[tuple[str, str]]:
        """(condition, point) of the alarms active now."""
        return {(a.condition, a.point) for a in self.alarms() if a.active}

    def tours(self) -> list[PatrolTour]:
        with self.sessions() as session:
            tours = list(session.scalars(select(PatrolTour).order_by(PatrolTour.id)))
            for tour in tours:
                _ = tour.visits  # loaded while the session is open
            return tours


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)
