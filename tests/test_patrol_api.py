"""The patrol HTTP API on each database backend: tours are walked with the patrol test bench
(taps through the store, the clock driven by hand), then read back through the API at a time
the test chooses."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.deps import clock_now
from cloud.app import create_app
from sitewatch.siteconfig import Site
from tests.patrol_desk import LI, PATROL, T0, ZHANG, PatrolDesk, minutes, patrol_site
from tests.users import OPERATOR

DAY = "2026-12-07"  # T0 is 08:00 on this day in Shanghai

# The bench's route, due every two hours from 08:00 to 18:00.
EVERY_TWO_HOURS = {
    "round": {
        **PATROL["routes"]["round"],
        "schedules": [{"at": ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]}],
    }
}


@dataclass
class Api:
    client: httpx.AsyncClient
    now: datetime = T0

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(f"/api/patrol{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


async def serve(sessions: sessionmaker[Session], sites: dict[str, Site]) -> AsyncIterator[Api]:
    app = create_app(sessions, sites)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sitewatch", headers=OPERATOR
    ) as client:
        api = Api(client)
        app.dependency_overrides[clock_now] = lambda: api.now
        yield api


@pytest.fixture
def desk(sessions: sessionmaker[Session], example_site: Site) -> PatrolDesk:
    return PatrolDesk(sessions, patrol_site(example_site, routes=EVERY_TWO_HOURS))


@pytest.fixture
async def api(sessions: sessionmaker[Session], desk: PatrolDesk) -> AsyncIterator[Api]:
    async for served in serve(sessions, {desk.site.id: desk.site}):
        yield served


def walk(desk: PatrolDesk, card: str, start: datetime, *after: float) -> None:
    """Tap b2 at `start`, then power and lift the given minutes after it (fewer: stop there)."""
    for checkpoint, offset in zip(("b2", "power", "lift"), (0, *after), strict=False):
        desk.tap(checkpoint, card, start + minutes(offset))


def walk_a_day(desk: PatrolDesk) -> None:
    """08:00 walked, 10:00 late at the lift, an unscheduled round at 11:20, 12:00 abandoned
    after b2 (power and lift missed), 14:00 not started, 16:00 under way at 16:05."""
    walk(desk, ZHANG, T0, 6, 14)
    walk(desk, ZHANG, T0 + minutes(120), 6, 17)  # lift 11 min after power: 8 ± 2, 1 min late
    walk(desk, LI, T0 + minutes(200), 6, 14)
    walk(desk, LI, T0 + minutes(240))
    desk.tick(T0 + minutes(480))  # 12:00 missed; 14:00's start window closed at 14:10
    walk(desk, ZHANG, T0 + minutes(481))


async def test_the_board_shows_where_each_guard_is_and_what_is_due(
    desk: PatrolDesk, api: Api
) -> None:
    api.now = T0 - minutes(5)
    board = await api.get("/board")
    assert (board["site"], board["day"], board["in_progress"]) == (desk.site.id, DAY, [])
    (due,) = board["next_due"]
    first = due["slots"][0]
    assert (due["route"], first["at"], first["open"]) == ("round", "2026-12-07T00:00:00Z", True)
    assert len(due["slots"]) == 3

    walk(desk, ZHANG, T0 + minutes(1), 6)
    api.now = T0 + minutes(9)
    board = await api.get("/board")
    (live,) = board["in_progress"]
    assert live["tour"]["guard_name"] == "张伟 Zhang Wei"
    assert live["tour"]["scheduled_at"] == "2026-12-07T00:00:00Z"
    assert (live["last_checkpoint_name"], live["last_tap_at"]) == ("配电房", "2026-12-07T00:07:00Z")
    # The lift is expected 8 ± 2 minutes after power, and missed 3 minutes (grace) after that.
    assert live["next_checkpoint_name"] == "电梯机房"
    assert live["next_expected_at"] == "2026-12-07T00:15:00Z"
    assert live["next_due_by"] == "2026-12-07T00:20:00Z"
    assert live["lone_worker"] is False
    # The 08:00 slot is taken: the next free one is 10:00, not open yet.
    slots = board["next_due"][0]["slots"]
    assert [(s["at"], s["open"]) for s in slots[:1]] == [("2026-12-07T02:00:00Z", False)]
    assert board["attention"] == []

    desk.tick(T0 + minutes(14))  # 7 minutes silent since power
    api.now = T0 + minutes(14)
    (live,) = (await api.get("/board"))["in_progress"]
    assert live["lone_worker"] is True
    guards = {g["id"]: g for g in await api.get("/guards")}
    assert guards["zhang-wei"]["on_tour"] == live["tour"]["id"]
    assert guards["li-na"] == {"id": "li-na", "name": "李娜 Li Na", "badges": [LI], "on_tour": None}


async def test_the_board_lists_today_s_late_missed_and_not_started_tours(
    desk: PatrolDesk, api: Api
) -> None:
    walk_a_day(desk)
    api.now = T0 + minutes(485)
    board = await api.get("/board")
    attention = [(t["scheduled_at"], t["outcome"]) for t in board["attention"]]
    assert attention == [
        ("2026-12-07T02:00:00Z", "late"),
        ("2026-12-07T04:00:00Z", "missed"),
        ("2026-12-07T06:00:00Z", "not_started"),
    ]
    (live,) = board["in_progress"]
    assert (live["tour"]["scheduled_at"], live["next_checkpoint"]) == (
        "2026-12-07T08:00:00Z",
        "power",
    )
    # Tomorrow the day starts afresh.
    api.now = T0 + minutes(24 * 60)
    assert (await api.get("/board"))["attention"] == []


async def test_a_tour_in_detail_has_each_checkpoint_s_verdict_its_taps_and_incidents(
    desk: PatrolDesk, api: Api
) -> None:
    walk(desk, ZHANG, T0 - minutes(5))  # early: before the slot, in its window
    desk.tap("pump", ZHANG, T0 - minutes(3))  # not on this route
    desk.tap("lift", ZHANG, T0 + minutes(1))  # skips power: out of order
    desk.tick(T0 + minutes(30))
    page = await api.get("/tours", route="round")
    assert page["total"] == 1
    tour_id = page["tours"][0]["id"]
    api.now = T0 + minutes(31)
    reported = await api.client.post(
        "/api/patrol/incidents",
        json={"checkpoint": "lift", "category": "damage", "notes": "门锁坏 door lock broken",
              "tour_id": tour_id},
        headers=OPERATOR,
    )  # fmt: skip
    assert reported.status_code == 201, reported.text

    detail = await api.get(f"/tours/{tour_id}")
    assert (detail["tour"]["status"], detail["tour"]["outcome"]) == ("incomplete", "missed")
    visits = [(v["checkpoint"], v["verdict"], v["tapped_at"]) for v in detail["visits"]]
    assert visits == [
        ("b2", "early", "2026-12-06T23:55:00Z"),
        ("power", "missed", None),
        ("lift", "out_of_order", "2026-12-07T00:01:00Z"),
    ]
    power = detail["visits"][1]
    # power: expected 6 ± 2 minutes after b2, missed 3 minutes (grace) after its window.
    assert (power["expected_at"], power["window_to"], power["due_by"]) == (
        "2026-12-07T00:01:00Z", "2026-12-07T00:03:00Z", "2026-12-07T00:06:00Z",
    )  # fmt: skip
    assert [(t["checkpoint"], t["verdict"]) for t in detail["taps"]] == [
        ("b2", "early"), ("pump", "not_on_route"), ("lift", "out_of_order"),
    ]  # fmt: skip
    (incident,) = detail["incidents"]
    assert (incident["category"], incident["reported_by"]) == ("damage", "王芳")

    walk(desk, LI, T0 + minutes(120), 6, 17)
    tours = (await api.get("/tours", guard="li-na"))["tours"]
    detail = await api.get(f"/tours/{tours[0]['id']}")
    assert [v["late_min"] for v in detail["visits"]] == [None, None, 1.0]
    assert detail["tour"]["outcome"] == "late"


async def test_tours_and_taps_filter_and_page(desk: PatrolDesk, api: Api) -> None:
    walk_a_day(desk)
    everything = await api.get("/tours", limit=2)
    assert (everything["total"], len(everything["tours"])) == (6, 2)
    newest, second = everything["tours"]
    assert newest["started_at"] == "2026-12-07T08:01:00Z"
    assert second["status"] == "not_started"
    rest = await api.get("/tours", limit=10, offset=2)
    assert len(rest["tours"]) == 4
    assert (await api.get("/tours", status="incomplete"))["tours"][0]["guard"] == "li-na"
    # A time without a zone is Shanghai's: 10:00 to 12:00 local holds the 10:00 and 11:20 tours.
    window = await api.get("/tours", **{"from": "2026-12-07T10:00", "to": "2026-12-07T12:00"})
    assert [t["guard"] for t in window["tours"]] == ["li-na", "zhang-wei"]

    taps = await api.get("/taps", guard="li-na")
    assert len(taps) == 4 and {t["verdict"] for t in taps} == {"on_time"}
    lift = await api.get("/taps", checkpoint="lift", **{"from": "2026-12-07T10:00+08:00"})
    assert [t["at"] for t in lift] == ["2026-12-07T03:34:00Z", "2026-12-07T02:17:00Z"]

    missing = await api.client.get("/api/patrol/tours", params={"guard": "wang"})
    assert missing.status_code == 404 and "guard 'wang'" in missing.json()["detail"]
    assert (await api.client.get("/api/patrol/tours/9999")).status_code == 404


async def test_the_timeline_colours_every_tour_of_the_day(desk: PatrolDesk, api: Api) -> None:
    walk_a_day(desk)
    api.now = T0 + minutes(485)
    timeline = await api.get("/timeline", route="round", date=DAY)
    assert (timeline["day_start"], timeline["day_end"]) == (
        "2026-12-06T16:00:00Z", "2026-12-07T16:00:00Z",
    )  # fmt: skip
    (route,) = timeline["routes"]
    bars = [(b["outcome"], b["scheduled"], b["start"][11:16]) for b in route["bars"]]
    assert bars == [
        ("walked", True, "00:00"),
        ("late", True, "02:00"),
        ("walked", False, "03:20"),
        ("missed", True, "04:00"),
        ("not_started", True, "06:00"),
        ("in_progress", True, "08:01"),
        ("due", True, "10:00"),
    ]
    walked = route["bars"][0]
    assert (walked["end"], walked["guard_name"]) == ("2026-12-07T00:14:00Z", "张伟 Zhang Wei")
    assert route["bars"][5]["end"] == "2026-12-07T08:05:00Z"  # in progress: until now

    # Without a date: today; without a route: every route. The day before is empty.
    assert (await api.get("/timeline"))["date"] == DAY
    before = await api.get("/timeline", date="2026-12-06")
    assert before["routes"][0]["bars"] == []
    unknown = await api.client.get("/api/patrol/timeline", params={"route": "nowhere"})
    assert unknown.status_code == 404 and "route 'nowhere'" in unknown.json()["detail"]


async def test_the_report_counts_completion_lateness_and_lists_missed_checkpoints(
    desk: PatrolDesk, api: Api
) -> None:
    walk_a_day(desk)
    api.now = T0 + minutes(485)
    report = await api.get("/report", **{"from": DAY, "to": DAY, "by": "route"})
    (row,) = report["rows"]
    # Counted: 08:00, 10:00, 11:20 (unscheduled), 12:00 and 14:00; 16:00 is still under way.
    assert {k: row[k] for k in ("due", "tours", "walked", "not_started", "incomplete")} == {
        "due": 4, "tours": 5, "walked": 3, "not_started": 1, "incomplete": 1,
    }  # fmt: skip
    assert row["completion_rate"] == 0.6
    assert (row["on_time"], row["early"], row["late"], row["out_of_order"], row["missed"]) == (
        9, 0, 1, 0, 2,
    )  # fmt: skip
    assert row["avg_late_min"] == 1.0
    assert report["total"]["completion_rate"] == 0.6
    missed = [(m["checkpoint_name"], m["due_by"], m["guard"]) for m in report["missed"]]
    assert missed == [
        ("配电房", "2026-12-07T04:11:00Z", "li-na"),
        ("电梯机房", "2026-12-07T04:19:00Z", "li-na"),
    ]

    by_guard = await api.get("/report", **{"from": DAY, "to": DAY, "by": "guard"})
    rows = {r["key"]: (r["tours"], r["walked"], r["completion_rate"]) for r in by_guard["rows"]}
    assert rows == {"zhang-wei": (2, 2, 1.0), "li-na": (2, 1, 0.5), "": (1, 0, 0.0)}

    by_day = await api.get("/report", **{"from": "2026-12-06", "to": DAY, "by": "day"})
    assert [(r["key"], r["tours"]) for r in by_day["rows"]] == [("2026-12-06", 0), (DAY, 5)]
    assert by_day["rows"][0]["completion_rate"] is None
    by_week = await api.get("/report", **{"from": "2026-12-06", "to": DAY, "by": "week"})
    assert [(r["key"], r["tours"]) for r in by_week["rows"]] == [("2026-W49", 0), ("2026-W50", 5)]

    backwards = await api.client.get("/api/patrol/report", params={"from": DAY, "to": "2026-12-01"})
    assert backwards.status_code == 400 and "after" in backwards.json()["detail"]


async def test_the_report_downloads_as_csv_for_excel(desk: PatrolDesk, api: Api) -> None:
    walk_a_day(desk)
    api.now = T0 + minutes(485)
    params = {"from": DAY, "to": DAY, "by": "route", "format": "csv"}
    response = await api.client.get("/api/patrol/report", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="patrol-{desk.site.id}-{DAY}-{DAY}-route.csv"'
    )
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")  # so that Excel reads UTF-8
    header, row, total = list(csv.reader(io.StringIO(body[1:])))
    assert header[:3] == ["编号 Key", "名称 Name", "应巡 Due"]
    named = dict(zip(header, row, strict=True))
    assert named["名称 Name"] == "北区巡逻"
    assert named["完成率 Completion rate (%)"] == "60.0"
    assert named["平均迟到(分钟) Avg lateness (min)"] == "1.0"
    assert total[1] == "合计 Total"

    params["table"] = "missed"
    missed = (await api.client.get("/api/patrol/report", params=params)).content.decode()
    header, *rows = list(csv.reader(io.StringIO(missed[1:])))
    assert rows == [
        [rows[0][0], "北区巡逻", "配电房", "2026-12-07 12:11", "李娜 Li Na"],
        [rows[0][0], "北区巡逻", "电梯机房", "2026-12-07 12:19", "李娜 Li Na"],
    ]


async def test_incidents_raise_an_alarm_when_major(desk: PatrolDesk, api: Api) -> None:
    desk.tap("b2", ZHANG, T0)
    (tour,) = (await api.get("/tours"))["tours"]
    api.now = T0 + minutes(2)
    leak = await api.client.post(
        "/api/patrol/incidents",
        json={"checkpoint": "power", "category": "leak", "notes": "配电房漏水", "tour_id": tour["id"]},
        headers=OPERATOR,
    )  # fmt: skip
    assert leak.status_code == 201, leak.text
    made = leak.json()
    assert (made["major"], made["checkpoint_name"], made["reported_by"]) == (True, "配电房", "王芳")
    alarm = (await api.client.get(f"/api/alarms/{made['alarm_id']}")).json()["alarm"]
    assert (alarm["condition"], alarm["point"], alarm["state"]) == (
        "incident", "power", "rtn_unacknowledged",
    )  # fmt: skip
    assert "leak: 配电房漏水" in alarm["value"]

    other = await api.client.post(
        "/api/patrol/incidents",
        json={"checkpoint": "pump", "category": "other", "notes": "灯不亮 a light is out"},
        headers=OPERATOR,
    )
    assert other.status_code == 201 and other.json()["alarm_id"] is None
    listed = await api.get("/incidents", **{"from": "2026-12-07T08:00"})
    assert [i["category"] for i in listed] == ["other", "leak"]

    async def refused(body: dict[str, Any], headers: dict[str, str] = OPERATOR) -> httpx.Response:
        return await api.client.post("/api/patrol/incidents", json=body, headers=headers)

    nowhere = await refused({"checkpoint": "nowhere", "category": "leak", "notes": "x"})
    assert nowhere.status_code == 422 and "checkpoint 'nowhere'" in nowhere.json()["detail"]
    off_route = await refused(
        {"checkpoint": "pump", "category": "leak", "notes": "x", "tour_id": tour["id"]}
    )
    assert off_route.status_code == 422 and "not on tour" in off_route.json()["detail"]
    no_tour = await refused({"checkpoint": "b2", "category": "leak", "notes": "x", "tour_id": 999})
    assert no_tour.status_code == 422 and "tour 999" in no_tour.json()["detail"]
    category = await refused({"checkpoint": "b2", "category": "flood", "notes": "x"})
    assert category.status_code == 422
    anonymous = await refused(
        {"checkpoint": "b2", "category": "leak", "notes": "x"}, {"Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert len(await api.get("/incidents")) == 2


async def test_the_configured_routes_guards_and_checkpoints(desk: PatrolDesk, api: Api) -> None:
    api.now = T0 + minutes(30)
    (route,) = await api.get("/routes")
    assert [(s["checkpoint"], s["walk_min"], s["tolerance_min"]) for s in route["stops"]] == [
        ("b2", 5, 3), ("power", 6, 2), ("lift", 8, 2),
    ]  # fmt: skip
    assert route["stops"][0]["location"] == "North tower, fire passage B2"
    assert route["schedules"][0]["at"][:2] == ["08:00", "10:00"]
    assert (route["start_window_min"], route["grace_min"], route["lone_worker_min"]) == (10, 3, 7)
    assert route["next_starts"] == [
        "2026-12-07T02:00:00Z", "2026-12-07T04:00:00Z", "2026-12-07T06:00:00Z",
    ]  # fmt: skip
    checkpoints = {c["id"]: c for c in await api.get("/checkpoints")}
    assert checkpoints["pump"]["routes"] == [] and checkpoints["lift"]["routes"] == ["round"]
    assert checkpoints["lift"]["reader"] == "cp-lift-machine-room"


async def test_the_site_may_be_left_out_only_when_there_is_one(
    sessions: sessionmaker[Session], desk: PatrolDesk
) -> None:
    other = replace(desk.site, id="harbour-east")
    async for api in serve(sessions, {desk.site.id: desk.site, other.id: other}):
        vague = await api.client.get("/api/patrol/board")
        assert vague.status_code == 400
        assert "2 sites are configured" in vague.json()["detail"]
        assert (await api.get("/board", site="harbour-east"))["site"] == "harbour-east"
        unknown = await api.client.get("/api/patrol/routes", params={"site": "atlantis"})
        assert unknown.status_code == 404 and "site 'atlantis'" in unknown.json()["detail"]


def test_every_patrol_endpoint_is_documented(desk: PatrolDesk) -> None:
    schema = create_app(desk.sessions, {desk.site.id: desk.site}).openapi()
    patrol = {p: ops for p, ops in schema["paths"].items() if p.startswith("/api/patrol")}
    assert len(patrol) == 10
    for path, operations in patrol.items():
        for method, operation in operations.items():
            assert operation["tags"] == ["patrol"], (method, path)
            assert operation.get("summary") and operation.get("description"), (method, path)
            for param in operation.get("parameters", []):
                if param["in"] != "header":
                    assert param.get("description"), (method, path, param["name"])
