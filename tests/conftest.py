"""Shared fixtures: a real broker for the session, a database on each backend, and the whole stack
(simulator → edge → cloud)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import make_engine, migrate, session_factory
from cloud.service import CloudService
from cloud.settings import CloudSettings
from edge.agent import EdgeAgent
from simulators.modbus_server import ModbusSimulator
from simulators.pumproom import PumpRoom
from sitewatch.configload import load_site
from sitewatch.siteconfig import Site
from tests.brokers import AmqttThread, MosquittoBroker, chosen_broker, test_broker
from tests.db import BACKENDS, POSTGRES_URL, database_url, postgres_database, sqlite_url
from tests.users import OPERATOR
from tests.users import seed as seed_users

ROOT = Path(__file__).resolve().parent.parent
# Fixtures shared by several test modules, kept beside the helpers they build on.
pytest_plugins = ["tests.gate_desk"]
EXAMPLE_SITE = ROOT / "config" / "site.example.yaml"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"sitewatch test broker: {chosen_broker()} (on a free port; SITEWATCH_TEST_BROKER overrides)",
        f"sitewatch test databases: SQLite files and PostgreSQL at {POSTGRES_URL} "
        "(SITEWATCH_TEST_POSTGRES_URL overrides)",
    ]


@pytest.fixture(scope="session")
def broker() -> Iterator[MosquittoBroker | AmqttThread]:
    with test_broker() as running:
        print(f"\ntest broker: {running.kind} on {running.address}")
        yield running


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend in turn: a new SQLite file, a new PostgreSQL database."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest schema."""
    engine = make_engine(db_url)
    migrate(engine)
    seed_users(session_factory(engine))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    """Sessions on `db_engine`: each test using it runs on SQLite and on PostgreSQL."""
    return session_factory(db_engine)


@pytest.fixture
def pg_sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on a new, migrated PostgreSQL database: for what only PostgreSQL can show (two
    transactions writing at once)."""
    with postgres_database() as url:
        engine = make_engine(url)
        migrate(engine)
        try:
            yield session_factory(engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def example_site() -> Site:
    """The example site without its weekly pump-test window: a test that starts fire pump 1 on a
    Monday morning in Shanghai must not find its alarm suppressed (tests/test_alarm_clock.py
    covers suppression with a clock of its own)."""
    site = load_site(EXAMPLE_SITE)
    assert site.suppressions, "the example site is expected to show a suppression window"
    return replace(site, suppressions=())


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Await `check()` until it returns something truthy; fail with its last result after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    result: Any = None
    while loop.time() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last result: {result!r}")


def cloud_settings(
    broker: MosquittoBroker | AmqttThread, tmp_path: Path, db_url: str | None = None
) -> CloudSettings:
    """A cloud on its own database (a SQLite file unless given) and a free HTTP port, with a
    unique MQTT client id."""
    return CloudSettings(
        db_url=db_url or sqlite_url(tmp_path),
        mqtt_url=str(broker.address),
        http_port=0,
        site_files=[],
        ack_interval_s=0.2,
        client_id=f"sw-cloud-test-{uuid.uuid4().hex[:8]}",
    )


@dataclass
class Stack:
    site: Site
    sim: ModbusSimulator
    room: PumpRoom
    cloud: CloudService
    edge: EdgeAgent
    api: httpx.AsyncClient
    edge_task: asyncio.Task[None] | None = None

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def alarms(self, **params: Any) -> list[dict[str, Any]]:
        return await self.get("/api/alarms", **params)


@pytest.fixture
async def stack(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path, db_url: str
) -> AsyncIterator[Stack]:
    """The real path: Modbus TCP simulator → edge agent → broker → cloud (on each database
    backend) → HTTP API."""
    async with ModbusSimulator(example_site, "pumproom") as sim:
        room = PumpRoom(sim)
        await room.normal()
        cloud = CloudService(
            cloud_settings(broker, tmp_path, db_url), {example_site.id: example_site}
        )
        edge_site = sim.site_for_edge()
        # Sample telemetry every second rather than every minute, so tests see it.
        nodes = {**edge_site.nodes, "pumproom": replace(edge_site.nodes["pumproom"], telemetry_s=1)}
        edge_site = replace(edge_site, nodes=nodes)
        edge = EdgeAgent(edge_site, "pumproom", broker.address, tmp_path / "edge")
        async with asyncio.TaskGroup() as group:
            cloud_task = group.create_task(cloud.run())
            await cloud.started()
            seed_users(cloud.sessions)
            edge_task = group.create_task(edge.run())
            async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=OPERATOR) as api:
                yield Stack(example_site, sim, room, cloud, edge, api, edge_task)
            edge_task.cancel()
            cloud_task.cancel()
