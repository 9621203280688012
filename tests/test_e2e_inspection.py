"""The weekly inspection end to end: the pump simulator runs its scheduled weekly test over Modbus
TCP, the edge reports it through the broker, the cloud's report judges the run, the engineer signs,
and the sealed report cannot be changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cloud.records.seal import verify
from sitewatch.siteconfig import Site
from tests.conftest import Stack, eventually
from tests.gate_desk import OPERATOR

RUN_S = 4.0
CHECKLIST = ("extinguishers", "emergency_light", "labels", "no_leaks", "hot_work")


@pytest.fixture(scope="session")
def example_site(example_site: Site) -> Site:
    """A test rig's pump 1: its weekly run counted in seconds, not NFPA 25's 10 minutes."""
    rooms = example_site.inspection.rooms
    room = rooms["pumproom-b2"]
    pumps = {
        **room.pumps,
        "fire-pump-1": room.pumps["fire-pump-1"].model_copy(
            update={"min_run_min": RUN_S / 60 * 0.75}
        ),
    }
    inspection = example_site.inspection.model_copy(
        update={"rooms": {**rooms, "pumproom-b2": room.model_copy(update={"pumps": pumps})}}
    )
    return replace(example_site, inspection=inspection)


async def test_a_scheduled_weekly_test_is_judged_passed_signed_and_sealed(stack: Stack) -> None:
    await stack.room.weekly_test("fire-pump-1", RUN_S, pressure=("supply-pressure", 0.62))

    async def judged() -> dict[str, Any] | None:
        current = await stack.get("/api/inspection/rooms/pumproom-b2/current")
        pump = next(p for p in current["report"]["pumps"] if p["id"] == "fire-pump-1")
        return current if pump["test_run"] else None

    current = await eventually(judged, timeout=20)
    report = current["report"]
    test_run = next(p for p in report["pumps"] if p["id"] == "fire-pump-1")["test_run"]
    assert test_run["passed"], test_run["reasons"]
    assert test_run["automatic"] and test_run["started_in_time"]
    assert 0.57 <= test_run["pressures"]["discharge"]["max"] <= 0.63
    assert "test_minimum_lowered" in {f["code"] for f in report["findings"]}  # said, not hidden

    week = f"/api/inspection/rooms/pumproom-b2/weeks/{report['week_start']}"
    body = {"checklist": {item: {"ok": True} for item in CHECKLIST}, "notes": "周检完成"}
    signed = await stack.api.post(f"{week}/sign", json=body, headers=OPERATOR)
    assert signed.status_code == 201, signed.text
    sealed = signed.json()
    assert sealed["signed"]["seal"]["seq"] == 1
    changed = await stack.api.patch(week, json={"notes": "改"}, headers=OPERATOR)
    assert changed.status_code == 405
    again = await stack.api.post(f"{week}/sign", json=body, headers=OPERATOR)
    assert again.status_code == 409
    assert (await stack.get(week))["report"] == sealed["report"]
    sessions = stack.cloud.sessions
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
        session.execute(text("UPDATE inspections SET engineer = 'someone else'"))
    with sessions() as session:
        assert verify(session) == (1, [])
