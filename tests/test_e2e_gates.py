"""Parking gates end to end: card records in the cloud → the card list over a real broker → the
gate node's own copy → a read at a simulated lane reader decided at the gate, the relay pulsed over
Modbus RTU on a pseudo-terminal, the pass back in the cloud; and the same with the broker down."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.service import CloudService
from edge.agent import EdgeAgent
from simulators.site import SiteSimulator
from sitewatch.siteconfig import Site, Table
from tests.brokers import MosquittoBroker
from tests.conftest import cloud_settings, eventually
from tests.gate_desk import OPERATOR
from tests.test_gate_edge import quick_site
from tests.users import seed as seed_users

pytestmark = pytest.mark.skipif(
    not shutil.which("mosquitto"), reason="stopping the broker needs a mosquitto binary"
)
RESIDENT, NEIGHBOUR = "0A00BC614E", "0A00000002"


@dataclass
class GateStack:
    broker: MosquittoBroker
    sims: SiteSimulator
    agent: EdgeAgent
    api: httpx.AsyncClient

    async def issue(self, card: str) -> dict[str, Any]:
        body = {"card": card, "holder": "陈先生", "type": "resident", "plates": ["粤B12345"]}
        response = await self.api.post("/api/cards", json=body, headers=OPERATOR)
        assert response.status_code == 201, response.text
        return response.json()

    async def gate_current(self) -> bool:
        lists = (await self.api.get("/api/cards/lists")).json()
        return lists["version"] > 0 and all(g["current"] for g in lists["gates"])

    async def passed(self, card: str, **expected: Any) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            passes = (await self.api.get("/api/gates/passes", params={"card": card})).json()
            matching = [p for p in passes if all(p[k] == v for k, v in expected.items())]
            return matching[0] if matching else None

        return await eventually(found, timeout=20)

    def relay_writes(self) -> list[bool]:
        return [
            bool(w.values[0])
            for w in self.sims.modbus["gate"].writes
            if w.device == "gate-relays" and w.table is Table.COIL and w.address == 0
        ]


def no_debounce(site: Site) -> Site:
    """The same card twice within the readers' 2 s debounce would be one read: not here."""
    node = site.nodes["gate"]
    readers = {r: c.model_copy(update={"debounce_s": 0}) for r, c in node.readers.items()}
    return replace(site, nodes={**site.nodes, "gate": replace(node, readers=readers)})


@pytest.fixture
async def gates(example_site: Site, tmp_path: Path) -> AsyncIterator[GateStack]:
    broker = MosquittoBroker(persistence=False)
    broker.start()
    try:
        async with SiteSimulator(example_site) as sims:
            cloud = CloudService(cloud_settings(broker, tmp_path), {example_site.id: example_site})
            # After the broker restarts (no persistence), the edge may reconnect and publish its
            # backlog before the cloud has subscribed again; the broker drops those, and the edge
            # sends them again when the cloud says it is online (default confirmation timeout).
            agent = EdgeAgent(
                no_debounce(quick_site(sims.site_for_edge())), "gate", broker.address, tmp_path
            )
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(cloud.run())]
                await cloud.started()
                seed_users(cloud.sessions)
                tasks.append(group.create_task(agent.run()))
                async with httpx.AsyncClient(
                    base_url=cloud.url, timeout=5, headers=OPERATOR
                ) as api:
                    yield GateStack(broker, sims, agent, api)
                for task in tasks:
                    task.cancel()
    finally:
        broker.stop()


async def test_a_card_reported_lost_is_denied_at_the_gate_at_its_next_read(
    gates: GateStack,
) -> None:
    card = await gates.issue(RESIDENT)
    await eventually(gates.gate_current, timeout=20)
    reader = gates.sims.reader("gate", "entry-reader")
    reader.tap(RESIDENT)
    allowed = await gates.passed(RESIDENT, allowed=True)
    assert (allowed["reason"], allowed["holder"], allowed["relay_confirmed"]) == (
        "valid",
        "陈先生",
        True,
    )

    lost = await gates.api.post(f"/api/cards/{card['id']}/lost", headers=OPERATOR)
    assert lost.status_code == 200

    async def blocked() -> dict[str, Any] | None:
        detail = (await gates.api.get(f"/api/cards/{card['id']}")).json()
        (gate,) = detail["gates"]
        return gate if gate["after_s"] is not None else None

    block = await eventually(blocked, timeout=20)
    assert 0 <= block["after_s"] < 5  # the console shows how long the gate took
    reader.tap(RESIDENT)
    denied = await gates.passed(RESIDENT, allowed=False)
    assert denied["reason"] == "lost"
    assert gates.relay_writes() == [True, False]  # only the first read lifted the barrier
    alarms = (await gates.api.get("/api/alarms")).json()
    assert any(a["condition"] == "lost_card" and a["value"] == f"card {RESIDENT}" for a in alarms)


async def test_with_the_broker_down_the_gate_decides_from_its_list_and_the_cloud_hears_later(
    gates: GateStack,
) -> None:
    await gates.issue(NEIGHBOUR)
    await eventually(gates.gate_current, timeout=20)
    gates.broker.stop()
    await eventually(lambda: _now(not gates.agent.link.connected))
    assert gates.agent.gate is not None
    decided = gates.agent.gate.decided

    gates.sims.reader("gate", "entry-reader").tap(NEIGHBOUR)
    gates.sims.reader("gate", "entry-reader").tap("0A0000FFFF")  # nobody's card
    await eventually(lambda: _now(gates.agent.gate.decided >= decided + 2))  # type: ignore[union-attr]
    assert gates.relay_writes()[:1] == [True]  # the barrier lifted with no network
    assert gates.agent.outbox.status()["event"].unsent >= 2  # kept for the cloud

    gates.broker.start()
    allowed = await gates.passed(NEIGHBOUR, allowed=True)
    stranger = await gates.passed("0A0000FFFF")
    assert (allowed["reason"], stranger["allowed"], stranger["reason"]) == (
        "valid",
        False,
        "unknown",
    )


async def _now(value: Any) -> Any:
    return value
