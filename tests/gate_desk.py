"""A parking test bench on a real database: the cloud API in process (ASGI), gate reports fed
through the store as a gate node sends them, and the commands the API sends, recorded."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.app import create_app
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.users import OPERATOR


@dataclass
class RecordedCommands:
    """Stands in for the MQTT command channel at the API boundary."""

    sent: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    reachable: bool = True

    def send_command(self, site: str, node: str, name: str, args: dict[str, Any]) -> bool:
        if self.reachable:
            self.sent.append((site, node, name, args))
        return self.reachable


@dataclass
class GateDesk:
    sessions: sessionmaker[Session]
    site: Site
    api: httpx.AsyncClient
    commands: RecordedCommands
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def report(self, *items: wire.GatePass | wire.CardListLoaded | wire.Heartbeat) -> None:
        """Items as the gate node publishes them in one event message."""
        message = wire.Event(
            site=self.site.id,
            node="gate",
            stream="gate-test-stream",
            seq=next(self._seq),
            boot=1,
            ts=wire.now_ms(),
            items=list(items),
        )
        with self.sessions.begin() as session:
            store.apply_one(session, {self.site.id: self.site}, message)

    def gate_pass(self, at: datetime, **fields: Any) -> None:
        values = {"lane": "lane-in", "direction": "in", "allowed": True, "reason": "valid"}
        self.report(wire.GatePass.model_validate({**values, **fields, "ts": ms(at)}))

    async def post(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return await self.api.post(path, json=body, params=params, headers=OPERATOR)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
async def desk(sessions: sessionmaker[Session], example_site: Site) -> AsyncIterator[GateDesk]:
    """The example site's cloud API in process, on each database backend."""
    commands = RecordedCommands()
    app = create_app(sessions, {example_site.id: example_site}, commands=commands)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=OPERATOR) as api:
        yield GateDesk(sessions, example_site, api, commands)


@pytest.fixture
async def api(
    sessions: sessionmaker[Session], example_site: Site
) -> AsyncIterator[httpx.AsyncClient]:
    """The example site's API in process, on each database backend, as the admin 王芳."""
    app = create_app(sessions, {example_site.id: example_site})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=OPERATOR
    ) as client:
        yield client
