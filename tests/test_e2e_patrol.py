"""Patrol end to end on the real stack: simulated checkpoint readers on pseudo-terminals → edge →
broker → cloud, a guard walking a route with one checkpoint skipped, feedback back to the readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.service import CloudService
from edge.agent import EdgeAgent
from simulators.guard import walk_route
from simulators.site import SiteSimulator
from sitewatch.patrolconfig import Patrol
from sitewatch.siteconfig import Site
from tests.brokers import AmqttThread, MosquittoBroker
from tests.conftest import cloud_settings, eventually
from tests.users import OPERATOR
from tests.users import seed as seed_users

BADGE = "04A1B2C3D4E5F6"
# Minutes, shrunk so the walk takes seconds: each checkpoint 3 s after the one before, ± 3 s,
# missed 3 s after its window; a silent guard is reported after 6 s.
WALK = 0.05
PATROL = {
    "grace_min": WALK,
    "lone_worker_min": 2 * WALK,
    "guards": {"zhang-wei": {"name": "张伟 Zhang Wei", "badges": [BADGE]}},
    "checkpoints": {
        "b2": {"name": "消防通道 B2", "node": "patrol-north", "reader": "cp-fire-passage-b2"},
        "power": {"name": "配电房", "node": "patrol-north", "reader": "cp-power-room"},
        "lift": {"name": "电梯机房", "node": "patrol-north", "reader": "cp-lift-machine-room"},
    },
    "routes": {
        "north": {
            "name": "北区巡逻",
            "stops": [
                {"checkpoint": "b2"},
                {"checkpoint": "power", "walk_min": WALK, "tolerance_min": WALK},
                {"checkpoint": "lift", "walk_min": WALK, "tolerance_min": WALK},
            ],
        }
    },
}
DEADLINE_S = 3 * WALK * 60  # power: walk + tolerance + grace after the first tap
CLOCK_SLACK_S = 3.0  # the patrol clock ticks every second; the rest is a loaded CI machine


@dataclass
class PatrolStack:
    sims: SiteSimulator
    cloud: CloudService
    api: httpx.AsyncClient

    async def alarms(self, condition: str) -> list[dict[str, Any]]:
        response = await self.api.get("/api/alarms", params={"include_normal": True})
        response.raise_for_status()
        return [a for a in response.json() if a["condition"] == condition]


@pytest.fixture
async def patrol(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path
) -> AsyncIterator[PatrolStack]:
    site = replace(example_site, patrol=Patrol.model_validate(PATROL))
    async with SiteSimulator(site) as sims:
        cloud = CloudService(cloud_settings(broker, tmp_path), {site.id: site})
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(cloud.run())]
            await cloud.started()
            seed_users(cloud.sessions)
            agent = EdgeAgent(sims.site_for_edge(), "patrol-north", broker.address, tmp_path)
            tasks.append(group.create_task(agent.run()))
            async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=OPERATOR) as api:

                async def online() -> bool:
                    nodes = (await api.get("/api/nodes")).json()
                    return any(n["node"] == "patrol-north" and n["online"] for n in nodes)

                await eventually(online)
                yield PatrolStack(sims, cloud, api)
            for task in tasks:
                task.cancel()


async def test_a_skipped_checkpoint_is_reported_by_its_deadline_and_the_reader_told(
    patrol: PatrolStack,
) -> None:
    started = time.monotonic()
    steps = await walk_route(patrol.sims, "north", BADGE, skip={"power"}, speed=1.0)
    assert [s.tapped for s in steps] == [True, False, True]

    # The reader said green at the first checkpoint, red at the one reached out of order.
    first = patrol.sims.reader("patrol-north", "cp-fire-passage-b2")
    last = patrol.sims.reader("patrol-north", "cp-lift-machine-room")
    assert await asyncio.to_thread(first.wait_feedback, 1) == [True]
    assert await asyncio.to_thread(last.wait_feedback, 1) == [False]

    async def missed() -> dict[str, Any] | None:
        found = [a for a in await patrol.alarms("missed") if a["point"] == "power"]
        return found[0] if found else None

    alarm = await eventually(missed, timeout=DEADLINE_S + 10)
    seen_after = time.monotonic() - started
    assert seen_after <= DEADLINE_S + CLOCK_SLACK_S, f"missed alarm came {seen_after:.1f} s in"
    assert alarm["category"] == "supervisory"
    assert alarm["value"] == "张伟 Zhang Wei"
    (out_of_order,) = [a for a in await patrol.alarms("out_of_order") if a["point"] == "lift"]
    raised = datetime.fromisoformat(alarm["raised_at"])
    assert raised > datetime.fromisoformat(out_of_order["raised_at"])

    # The tour ends incomplete when lift's window passes too; the report shows the miss.
    async def reported() -> dict[str, Any] | None:
        response = await patrol.api.get("/api/patrol/report", params={"by": "route"})
        response.raise_for_status()
        report = response.json()
        return report if report["missed"] else None

    report = await eventually(reported)
    (miss,) = report["missed"]
    assert (miss["route"], miss["checkpoint"], miss["guard"]) == ("north", "power", "zhang-wei")
    assert (report["total"]["missed"], report["total"]["out_of_order"]) == (1, 1)
    params = {"by": "route", "format": "csv", "table": "missed"}
    csv = await patrol.api.get("/api/patrol/report", params=params)
    assert "配电房" in csv.text
