"""The alarm HTTP API on a real SQLite store, with alarms raised by applying real wire messages."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.app import create_app
from cloud.auth.roles import Role
from cloud.models import AlarmRecord
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.conftest import eventually
from tests.users import OPERATOR, headers

STREAM = "0123456789abcdef"
SITE = "harbour-view"
OTHER_SITE = "harbour-east"
LEAK, VALVE, PRESSURE = "pumproom-leak", "valve-station-1", "supply-pressure"
ALICE = headers(Role.OPERATOR)  # 赵敏, on duty in the control room


@dataclasses.dataclass
class Plant:
    """The edge's side: sends one point value per wire message, numbering them like an outbox."""

    sessions: sessionmaker[Session]
    sites: dict[str, Site]
    seq: int = 0

    def send(
        self, device: str, point: str, value: wire.Value, ago_s: float = 0.0, **where: str
    ) -> None:
        self.seq += 1
        ts = wire.now_ms() - int(ago_s * 1000)
        msg = wire.Event(
            site=where.get("site", SITE),
            node=where.get("node", "pumproom"),
            stream=STREAM,
            seq=self.seq,
            boot=1,
            ts=ts,
            items=[wire.PointValue(device=device, point=point, value=value, ts=ts)],
        )
        with self.sessions.begin() as session:
            store.apply_one(session, self.sites, msg)

    def alarm_id(self, device: str, point: str, site: str = SITE) -> int:
        with self.sessions() as session:
            return session.scalars(
                select(AlarmRecord.id).where(
                    AlarmRecord.site == site,
                    AlarmRecord.device == device,
                    AlarmRecord.point == point,
                )
            ).one()

    def raise_(self, device: str, point: str, value: wire.Value = True, **where: str) -> int:
        self.send(device, point, value, **where)
        return self.alarm_id(device, point, where.get("site", SITE))


@pytest.fixture
def plant(sessions: sessionmaker[Session], example_site: Site) -> Plant:
    other = dataclasses.replace(example_site, id=OTHER_SITE)
    return Plant(sessions, {SITE: example_site, OTHER_SITE: other})


@pytest.fixture
def app(plant: Plant) -> FastAPI:
    return create_app(plant.sessions, plant.sites, max_shelve_minutes=60)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sitewatch", headers=OPERATOR
    ) as client:
        yield client


async def act(
    api: httpx.AsyncClient,
    alarm_id: int,
    action: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] = ALICE,
) -> httpx.Response:
    return await api.post(f"/api/alarms/{alarm_id}/{action}", json=body or {}, headers=headers)


async def ok(api: httpx.AsyncClient, alarm_id: int, action: str, **body: Any) -> dict[str, Any]:
    response = await act(api, alarm_id, action, body)
    assert response.status_code == 200, response.text
    return response.json()


async def refused(api: httpx.AsyncClient, alarm_id: int, action: str, **body: Any) -> str:
    """The 409 detail of an action the alarm's state does not allow."""
    response = await act(api, alarm_id, action, body)
    assert response.status_code == 409, response.text
    return response.json()["detail"]


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def detail(api: httpx.AsyncClient, alarm_id: int) -> dict[str, Any]:
    return await get(api, f"/api/alarms/{alarm_id}")


async def listed(api: httpx.AsyncClient, **params: Any) -> list[tuple[str, str, str]]:
    return [(a["site"], a["device"], a["point"]) for a in await get(api, "/api/alarms", **params)]


def near_now(stamp: str, offset: timedelta = timedelta(0)) -> bool:
    return abs(datetime.fromisoformat(stamp) - (datetime.now(UTC) + offset)) < timedelta(seconds=30)


# -- who acts ---------------------------------------------------------------------------------


async def test_every_action_needs_an_account_that_may_act_and_records_its_name(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    anonymous = await act(api, zone1, "acknowledge", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    guard = await act(api, zone1, "acknowledge", headers=headers(Role.GUARD))
    assert guard.status_code == 403  # a guard must not acknowledge alarms
    assert "your role (guard) may not do this" in guard.json()["detail"]
    assert (await detail(api, zone1))["alarm"]["state"] == "unacknowledged"

    response = await act(api, zone1, "acknowledge")
    assert response.status_code == 200, response.text
    assert response.json()["acked_by"] == "赵敏"  # the account's name, not a typed one
    last = (await detail(api, zone1))["history"][-1]
    assert (last["event"], last["by"]) == ("acknowledged", "赵敏")


# -- acknowledge and comment ------------------------------------------------------------------


async def test_acknowledge_once_then_409_naming_who(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    acked = await ok(api, zone1, "acknowledge", note="on my way")
    assert (acked["state"], acked["acked_by"]) == ("acknowledged", "赵敏")
    assert near_now(acked["acked_at"])
    response = await act(api, zone1, "acknowledge", headers=headers(Role.ENGINEER))
    assert response.status_code == 409
    assert "already acknowledged by 赵敏" in response.json()["detail"]


async def test_acknowledge_unknown_alarm_or_bad_body(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    assert (await act(api, 9999, "acknowledge")).status_code == 404
    assert (await act(api, zone1, "acknowledge", {"note": 5})).status_code == 422
    assert (await act(api, zone1, "acknowledge", {"note": "x", "by": "mallory"})).status_code == 422
    assert (await detail(api, zone1))["alarm"]["state"] == "unacknowledged"


async def test_a_comment_needs_text_and_is_shown_and_kept(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    assert (await act(api, zone1, "comment", {"note": ""})).status_code == 422
    assert (await act(api, zone1, "comment", {})).status_code == 422
    commented = await ok(api, zone1, "comment", note="mop ordered")
    assert commented["state"] == "unacknowledged", "a comment does not acknowledge"
    assert commented["last_comment"]["by"] == "赵敏"
    assert commented["last_comment"]["note"] == "mop ordered"
    last = (await detail(api, zone1))["history"][-1]
    assert (last["event"], last["by"], last["note"]) == ("commented", "赵敏", "mop ordered")


# -- shelve -----------------------------------------------------------------------------------


async def test_a_fire_alarm_cannot_be_shelved(plant: Plant, api: httpx.AsyncClient) -> None:
    flow = plant.raise_(VALVE, "waterflow")
    message = await refused(api, flow, "shelve", reason="testing", minutes=10)
    assert "fire alarms cannot be shelved" in message
    assert (await detail(api, flow))["alarm"]["state"] == "unacknowledged"


async def test_shelve_within_the_limit_and_unshelve_fires_again(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    zone1, zone2 = plant.raise_(LEAK, "zone1"), plant.raise_(LEAK, "zone2")
    assert "60 minutes" in await refused(api, zone2, "shelve", reason="plumber", minutes=61)
    shelved = await ok(api, zone1, "shelve", reason="plumber on site", minutes=30)
    assert (shelved["state"], shelved["shelved_by"]) == ("shelved", "赵敏")
    assert shelved["shelve_reason"] == "plumber on site"
    assert near_now(shelved["shelved_until"], timedelta(minutes=30))

    again = await ok(api, zone1, "unshelve")
    assert (again["state"], again["shelved_until"]) == ("unacknowledged", None)
    events = [line["event"] for line in (await detail(api, zone1))["history"]]
    assert events[-3:] == ["shelved", "unshelved", "raised"]


# -- reset of a latched fire alarm -------------------------------------------------------------


async def test_reset_needs_a_cleared_and_acknowledged_latched_alarm(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    flow = plant.raise_(VALVE, "waterflow")
    assert "still active" in await refused(api, flow, "reset")
    plant.send(VALVE, "waterflow", False)
    latched = (await detail(api, flow))["alarm"]
    assert (latched["state"], latched["active"], latched["latched"]) == (
        "unacknowledged",
        False,
        True,
    )
    assert "acknowledge it before resetting" in await refused(api, flow, "reset")
    await ok(api, flow, "acknowledge")
    reset = await ok(api, flow, "reset", note="flow test done")
    assert (reset["state"], reset["latched"]) == ("normal", False)
    last = (await detail(api, flow))["history"][-1]
    assert (last["event"], last["by"], last["note"]) == ("reset", "赵敏", "flow test done")


async def test_a_non_latching_alarm_is_not_reset(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    await ok(api, zone1, "acknowledge")
    assert "only a latched" in await refused(api, zone1, "reset")


# -- out of service ---------------------------------------------------------------------------


async def test_out_of_service_tags_the_whole_device(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1, zone2 = plant.raise_(LEAK, "zone1"), plant.raise_(LEAK, "zone2")
    plant.send(LEAK, "zone2", False)
    low = plant.raise_(PRESSURE, "pressure", 0.2)
    await ok(api, zone1, "out-of-service", reason="cable replacement")

    by_id = {a["id"]: a for a in await get(api, "/api/alarms")}
    for tagged in (zone1, zone2):
        assert by_id[tagged]["state"] == "out_of_service"
        tag = by_id[tagged]["out_of_service"]
        assert (tag["by"], tag["reason"]) == ("赵敏", "cable replacement")
        assert near_now(tag["at"])
    assert (by_id[low]["state"], by_id[low]["out_of_service"]) == ("unacknowledged", None)

    zone3 = plant.raise_(LEAK, "zone3")  # a new condition of the tagged device
    assert (await detail(api, zone3))["alarm"]["state"] == "out_of_service"
    assert "already out of service" in await refused(api, zone2, "out-of-service", reason="x")

    await ok(api, zone2, "return-to-service", note="cable replaced")
    states = {i: (await detail(api, i))["alarm"]["state"] for i in (zone1, zone2, zone3)}
    assert states == {zone1: "unacknowledged", zone2: "normal", zone3: "unacknowledged"}
    assert all(a["out_of_service"] is None for a in await get(api, "/api/alarms"))


# -- several at once --------------------------------------------------------------------------


async def test_acknowledge_many_lists_what_it_refused(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1, flow = plant.raise_(LEAK, "zone1"), plant.raise_(VALVE, "waterflow")
    zone2 = plant.raise_(LEAK, "zone2")
    await ok(api, zone2, "acknowledge")
    body = {"ids": [zone1, flow, zone1, zone2, 9999], "note": "seen"}
    response = await api.post("/api/alarms/acknowledge", json=body, headers=ALICE)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["acknowledged"] == [zone1, flow]
    reasons = {r["id"]: r["detail"] for r in result["refused"]}
    assert reasons.keys() == {zone2, 9999}
    assert "already acknowledged by 赵敏" in reasons[zone2]
    assert "no alarm 9999" in reasons[9999]
    assert (await detail(api, flow))["alarm"]["state"] == "acknowledged"


# -- the list ---------------------------------------------------------------------------------


async def test_the_list_filters_and_puts_unacknowledged_fire_first(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    plant.send(VALVE, "waterflow", True, ago_s=300)  # the oldest, but fire
    low = plant.raise_(PRESSURE, "pressure", 0.2)
    await ok(api, low, "acknowledge")
    plant.raise_(LEAK, "zone1")
    plant.raise_(LEAK, "zone2")
    plant.send(LEAK, "zone2", False)  # back to normal, not acknowledged yet
    done = plant.raise_(LEAK, "zone3")
    await ok(api, done, "acknowledge")
    plant.send(LEAK, "zone3", False)  # acknowledged and cleared: normal
    plant.raise_("garage-leak", "zone1", node="gate")
    plant.raise_(LEAK, "zone4", site=OTHER_SITE)

    everything = await listed(api)
    assert everything[0] == (SITE, VALVE, "waterflow")
    assert (SITE, LEAK, "zone3") not in everything, "normal alarms are not listed by default"
    assert everything[-1] == (SITE, PRESSURE, "pressure"), "acknowledged after unacknowledged"
    assert (SITE, LEAK, "zone3") in await listed(api, include_normal=True)
    assert await listed(api, site=OTHER_SITE) == [(OTHER_SITE, LEAK, "zone4")]
    assert await listed(api, site=SITE, area="Garage B1, low point by the ramp") == [
        (SITE, "garage-leak", "zone1")
    ]
    assert await listed(api, category="fire") == [(SITE, VALVE, "waterflow")]
    assert await listed(api, state=["acknowledged", "rtn_unacknowledged"]) == [
        (SITE, LEAK, "zone2"),
        (SITE, PRESSURE, "pressure"),
    ]
    assert await listed(api, active=False) == [(SITE, LEAK, "zone2")]
    assert (SITE, LEAK, "zone2") not in await listed(api, active=True)
    assert (await api.get("/api/alarms", params={"state": "bogus"})).status_code == 422


# -- one alarm --------------------------------------------------------------------------------


async def test_detail_has_the_history_and_the_points_recent_values(
    plant: Plant, api: httpx.AsyncClient
) -> None:
    plant.send(PRESSURE, "pressure", 0.6, ago_s=30)
    plant.send(LEAK, "zone1", False, ago_s=25)  # the same node, another point: not listed
    plant.send(PRESSURE, "pressure", 0.2, ago_s=20)
    low = plant.alarm_id(PRESSURE, "pressure")
    await ok(api, low, "acknowledge", note="jockey pump checked")
    plant.send(PRESSURE, "pressure", 0.55, ago_s=10)
    await ok(api, low, "comment", note="valve was half shut")

    page = await detail(api, low)
    assert page["alarm"]["state"] == "normal"
    history = [(h["event"], h["state"], h["by"], h["note"]) for h in page["history"]]
    assert history == [
        ("raised", "unacknowledged", None, None),
        ("acknowledged", "acknowledged", "赵敏", "jockey pump checked"),
        ("cleared", "normal", None, None),
        ("commented", "normal", "赵敏", "valve was half shut"),
    ]
    assert page["history"][0]["value"] == 0.2
    assert [v["value"] for v in page["recent_values"]] == [0.55, 0.2, 0.6]
    assert {v["quality"] for v in page["recent_values"]} == {"good"}
    assert (await api.get("/api/alarms/9999")).status_code == 404


# -- KPIs -------------------------------------------------------------------------------------


async def test_kpis_flood_chattering_and_stale(plant: Plant, api: httpx.AsyncClient) -> None:
    plant.send(PRESSURE, "pressure", 0.2, ago_s=25 * 3600)  # raised yesterday, still low
    for i, value in enumerate([True, False, True, False, True]):  # 3 activations in 40 s
        plant.send(LEAK, "zone1", value, ago_s=300 - 10 * i)
    for i, zone in enumerate(["zone2", "zone3", "zone4"]):
        plant.send(LEAK, zone, True, ago_s=200 - 60 * i)
    for i, zone in enumerate(["zone1", "zone2", "zone3", "zone4"]):
        plant.send("garage-leak", zone, True, ago_s=100 - 20 * i, node="gate")

    (kpis,) = await get(api, "/api/alarms/kpis", site=SITE)
    assert (kpis["last_10_min"], kpis["flood"]) == (10, True)
    assert kpis["chattering"] == [
        {"node": "pumproom", "device": LEAK, "point": "zone1", "activations": 3}
    ]
    (stale,) = kpis["stale"]
    assert stale["id"] == plant.alarm_id(PRESSURE, "pressure")
    assert near_now(stale["raised_at"], timedelta(hours=-25))
    (quiet,) = await get(api, "/api/alarms/kpis", site=OTHER_SITE)
    assert (quiet["last_10_min"], quiet["flood"], quiet["chattering"]) == (0, False, [])


# -- the live stream --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on a free port, in this event loop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await eventually(started)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line and name:
            yield name, json.loads(data)
            name, data = "", ""


async def test_the_stream_sends_a_snapshot_then_each_change(plant: Plant, app: FastAPI) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=10, headers=OPERATOR) as client,
        client.stream("GET", "/api/stream") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        name, snapshot = await asyncio.wait_for(anext(events), 10)
        assert name == "snapshot"
        assert [(a["id"], a["state"]) for a in snapshot["alarms"]] == [(zone1, "unacknowledged")]
        assert [k["site"] for k in snapshot["kpis"]] == sorted(plant.sites)

        acked = await client.post(f"/api/alarms/{zone1}/acknowledge", json={}, headers=ALICE)
        assert acked.status_code == 200, acked.text

        async def next_alarm() -> dict[str, Any]:
            async for name, data in events:
                if name == "alarm":
                    return data
            raise AssertionError("the stream ended")

        change = await asyncio.wait_for(next_alarm(), 10)
        assert (change["id"], change["state"], change["acked_by"]) == (
            zone1,
            "acknowledged",
            "赵敏",
        )


async def test_the_stream_pings_when_idle_and_ends_when_the_service_stops(
    plant: Plant, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud.api import stream

    # A ping the page can see (EventSource hides comments) is how it notices a dead connection.
    monkeypatch.setattr(stream, "PING_S", 0.2)
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=10, headers=OPERATOR) as client,
        client.stream("GET", "/api/stream") as response,
    ):
        events = sse_events(response)
        assert (await asyncio.wait_for(anext(events), 10))[0] == "snapshot"
        assert (await asyncio.wait_for(anext(events), 10))[0] == "ping"
        app.state.feed.close()  # what the service does as it stops

        async def drained() -> list[str]:
            return [name async for name, _ in events]

        rest = await asyncio.wait_for(drained(), 10)
        assert set(rest) <= {"ping", "kpis"}, "the stream ends instead of holding the server up"


# -- the audit trail --------------------------------------------------------------------------


async def test_the_alarm_history_is_append_only(plant: Plant, api: httpx.AsyncClient) -> None:
    zone1 = plant.raise_(LEAK, "zone1")
    await ok(api, zone1, "acknowledge", note="seen")
    for statement in (
        "UPDATE alarm_events SET by = 'mallory', note = NULL",
        "DELETE FROM alarm_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), plant.sessions.begin() as session:
            session.execute(text(statement))
    history = (await detail(api, zone1))["history"]
    assert [(h["event"], h["by"], h["note"]) for h in history] == [
        ("raised", None, None),
        ("acknowledged", "赵敏", "seen"),
    ]
