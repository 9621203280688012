"""Maintenance tags through the API: equipment taken out of service before it alarms, and back."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.auth.roles import Role
from cloud.models import AlarmRecord
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.users import headers

PUMP = "/api/equipment/harbour-view/pumproom/fire-pump-1"
ENGINEER = headers(Role.ENGINEER)  # 李工


def fault(sessions: sessionmaker[Session], site: Site, seq: int, value: bool) -> str:
    """Fire pump 1 reports its controller fault; returns the alarm's state."""
    ts = wire.now_ms()
    item = wire.PointValue(device="fire-pump-1", point="fault", value=value, ts=ts)
    message = wire.Event(
        site=site.id, node="pumproom", stream="7a97a97a90000001", seq=seq, boot=1, ts=ts,
        items=[item],
    )  # fmt: skip
    with sessions.begin() as session:
        store.apply_one(session, {site.id: site}, message)
    with sessions() as session:
        return session.scalars(select(AlarmRecord.state)).one()


async def test_equipment_tagged_before_it_alarms_holds_its_alarms(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], example_site: Site
) -> None:
    tagged = await api.post(
        f"{PUMP}/out-of-service", json={"reason": "annual overhaul 年度保养"}, headers=ENGINEER
    )
    assert tagged.status_code == 204, tagged.text
    (tag,) = (await api.get("/api/equipment/tags")).json()
    assert (tag["tagged_by"], tag["reason"], tag["device_name"]) == (
        "李工",
        "annual overhaul 年度保养",
        "1# 消防泵 Electric fire pump 1",
    )
    assert fault(sessions, example_site, 1, True) == "out_of_service"
    (listed,) = (await api.get("/api/alarms")).json()
    assert listed["out_of_service"]["by"] == "李工", "visible, with who tagged it"

    again = await api.post(f"{PUMP}/out-of-service", json={"reason": "x"}, headers=ENGINEER)
    assert again.status_code == 409 and "already out of service" in again.json()["detail"]

    back = await api.post(f"{PUMP}/return-to-service", json={"note": "done"}, headers=ENGINEER)
    assert back.status_code == 204, back.text
    assert (await api.get("/api/equipment/tags")).json() == []
    (removed,) = (await api.get("/api/equipment/tags", params={"include_removed": True})).json()
    assert (removed["removed_by"], removed["removed_note"]) == ("李工", "done")
    (alarm,) = (await api.get("/api/alarms")).json()
    assert alarm["state"] == "unacknowledged", "the fault outlasted the maintenance: it fires"


async def test_tagging_needs_a_configured_device_an_operator_and_a_reason(
    api: httpx.AsyncClient,
) -> None:
    unknown = await api.post(
        "/api/equipment/harbour-view/pumproom/fire-pump-9/out-of-service",
        json={"reason": "x"},
        headers=ENGINEER,
    )
    assert unknown.status_code == 404 and "fire-pump-9" in unknown.json()["detail"]
    nobody = await api.post(
        f"{PUMP}/out-of-service", json={"reason": "x"}, headers={"Authorization": ""}
    )
    assert nobody.status_code == 401
    no_reason = await api.post(f"{PUMP}/out-of-service", json={}, headers=ENGINEER)
    assert no_reason.status_code == 422
    untagged = await api.post(f"{PUMP}/return-to-service", json={}, headers=ENGINEER)
    assert untagged.status_code == 409 and "not out of service" in untagged.json()["detail"]
