"""Card readers end to end: simulated reader on a pty → edge → broker → cloud, and feedback back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from cloud.service import CloudService
from edge.agent import EdgeAgent
from simulators.site import SiteSimulator
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.brokers import AmqttThread, MosquittoBroker
from tests.conftest import cloud_settings, eventually
from tests.users import OPERATOR
from tests.users import seed as seed_users


@dataclass
class ReaderStack:
    sims: SiteSimulator
    cloud: CloudService
    api: httpx.AsyncClient

    async def reads(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.api.get("/api/reads", params=params)
        response.raise_for_status()
        return response.json()


@pytest.fixture
async def readers(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path
) -> AsyncIterator[ReaderStack]:
    async with SiteSimulator(example_site) as sims:
        edge_site = sims.site_for_edge()
        cloud = CloudService(cloud_settings(broker, tmp_path), {example_site.id: example_site})
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(cloud.run())]
            await cloud.started()
            seed_users(cloud.sessions)
            for node in ("patrol-north", "patrol-south", "gate"):
                agent = EdgeAgent(edge_site, node, broker.address, tmp_path / "edge")
                tasks.append(group.create_task(agent.run()))
            async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=OPERATOR) as api:
                stack = ReaderStack(sims, cloud, api)

                async def all_online() -> bool:
                    nodes = (await api.get("/api/nodes")).json()
                    return all(n["online"] for n in nodes if n["node"] != "pumproom")

                await eventually(all_online)
                yield stack
            for task in tasks:
                task.cancel()


@pytest.mark.parametrize(
    ("node", "reader", "card", "expected"),
    [
        ("patrol-north", "cp-power-room", "04A1B2C3D4E5F6", "04A1B2C3D4E5F6"),
        ("patrol-south", "cp-garage-b1", "DEADBEEF", "DEADBEEF"),
    ],
)
async def test_a_tap_reaches_the_cloud_with_its_place(
    readers: ReaderStack, node: str, reader: str, card: str, expected: str
) -> None:
    readers.sims.reader(node, reader).tap(card)

    async def seen() -> list[dict[str, Any]]:
        return [r for r in await readers.reads(reader=reader) if r["card"] == expected]

    (read,) = await eventually(seen)
    config = readers.sims.site.nodes[node].readers[reader]
    assert (read["node"], read["role"], read["location"]) == (node, config.role, config.location)
    assert read["reader_name"] == config.name


async def test_a_gate_read_is_decided_at_the_gate_and_carries_its_lane(
    readers: ReaderStack,
) -> None:
    from drivers.readers import encode_w26

    readers.sims.reader("gate", "exit-reader").tap_bits(encode_w26(12, 34567))  # type: ignore[union-attr]

    async def seen() -> list[dict[str, Any]]:
        return (await readers.api.get("/api/gates/passes", params={"lane": "lane-out"})).json()

    (decided,) = await eventually(seen)
    assert (decided["lane"], decided["direction"], decided["reader"], decided["card"]) == (
        "lane-out",
        "out",
        "exit-reader",
        "W26:12:34567",
    )
    assert (decided["allowed"], decided["reason"]) == (False, "unknown")  # no cards issued here


def _send_command(host: str, port: int, command: wire.Command) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:6]}")
    client.connect(host, port)
    client.loop_start()
    try:
        topic, payload = wire.encode(command)
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_feedback_command_lights_the_guards_reader(readers: ReaderStack) -> None:
    sim = readers.sims.reader("patrol-north", "cp-fire-passage-b2")
    address = readers.cloud.ingest.broker
    for ok in (True, False):
        command = wire.Command(
            site="harbour-view",
            node="patrol-north",
            name="feedback",
            args={"reader": "cp-fire-passage-b2", "ok": ok},
            ts=wire.now_ms(),
        )
        await asyncio.to_thread(_send_command, address.host, address.port, command)
    assert await asyncio.to_thread(sim.wait_feedback, 2) == [True, False]


async def test_a_scenario_walks_a_guard_along_a_route_and_brings_a_car(
    readers: ReaderStack,
) -> None:
    from simulators.scenario import Scenario, play, scenario_problems

    scenario = Scenario.model_validate(
        {
            "name": "walk",
            "node": "patrol-north",
            "steps": [
                {"at": 0.0, "action": "tap", "reader": "cp-fire-passage-b2", "card": "04AABBCC"},
                {"at": 0.3, "action": "tap", "reader": "cp-power-room", "card": "04AABBCC"},
                {"at": 0.6, "action": "tap", "reader": "cp-lift-machine-room", "card": "04AABBCC"},
                {
                    "at": 0.6,
                    "action": "tap",
                    "node": "gate",
                    "reader": "entry-reader",
                    "card": "0A00BC614E",
                },
            ],
        }
    )
    assert scenario_problems(scenario, readers.sims.site) == []
    await play(scenario, readers.sims)

    async def walked() -> list[dict[str, Any]] | None:
        reads = [r for r in await readers.reads(node="patrol-north") if r["card"] == "04AABBCC"]
        return reads if len(reads) == 3 else None

    reads = await eventually(walked)

    async def car() -> list[dict[str, Any]]:
        return (await readers.api.get("/api/gates/passes", params={"card": "0A00BC614E"})).json()

    (decided,) = await eventually(car)  # the gate decides its reads itself and reports them
    assert (decided["lane"], decided["reader"]) == ("lane-in", "entry-reader")
    by_time = sorted(reads, key=lambda r: r["source_ts"])
    assert [r["reader"] for r in by_time] == [
        "cp-fire-passage-b2",
        "cp-power-room",
        "cp-lift-machine-room",
    ]
