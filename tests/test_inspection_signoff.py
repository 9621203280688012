"""Signing a week's pump-room report: the checklist, the seal, the refusals, the overdue alarm,
the charts and the print-ready file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.deps import clock_now
from cloud.app import create_app
from cloud.auth.roles import Role
from cloud.inspection import signoff
from cloud.models import AlarmRecord
from cloud.records.seal import verify
from sitewatch.siteconfig import Site
from tests.gate_desk import OPERATOR
from tests.pumproom_week import MONDAY, PumpRoomWeek
from tests.users import headers

NOW = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)  # after the week's 2-day grace

WEEK = f"/api/inspection/rooms/pumproom-b2/weeks/{MONDAY.isoformat()}"
ALL_OK = {
    "checklist": {
        item: {"ok": True}
        for item in ("extinguishers", "emergency_light", "labels", "no_leaks", "hot_work")
    },
    "notes": "泵房整洁",
}


@pytest.fixture
async def seeded(
    sessions: sessionmaker[Session], example_site: Site
) -> AsyncIterator[tuple[PumpRoomWeek, httpx.AsyncClient]]:
    week = PumpRoomWeek(sessions, example_site)
    week.healthy()
    week.run("fire-pump-1", week.at(0, 9), 12)
    week.run("fire-pump-2", week.at(0, 10), 8)  # a diesel needs 30 minutes: a finding
    for n in range(14):
        week.change(week.at(2, 1 + n), "jockey-pump", "running", True)
        week.change(week.at(2, 1 + n) + timedelta(minutes=1), "jockey-pump", "running", False)
    week.report()  # writes the seeded rows
    app = create_app(sessions, {example_site.id: example_site})
    app.dependency_overrides[clock_now] = lambda: NOW  # the Wednesday after the seeded week
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=OPERATOR) as api:
        yield week, api


async def test_the_engineer_signs_and_the_report_is_sealed_for_good(
    seeded: tuple[PumpRoomWeek, httpx.AsyncClient],
) -> None:
    week, api = seeded
    draft = (await api.get(WEEK)).json()
    assert draft["signed"] is None
    assert {"test_run_failed", "jockey_over_limit"} <= {
        f["code"] for f in draft["report"]["findings"]
    }

    partial = await api.post(
        f"{WEEK}/sign", json={"checklist": {"labels": {"ok": True}}}, headers=OPERATOR
    )
    assert partial.status_code == 409
    assert (
        "not answered: extinguishers, emergency_light, no_leaks, hot_work"
        in partial.json()["detail"]
    )
    anonymous = await api.post(f"{WEEK}/sign", json=ALL_OK, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    operator = await api.post(f"{WEEK}/sign", json=ALL_OK, headers=headers(Role.OPERATOR))
    assert operator.status_code == 403  # the engineer signs, not the control room

    done = await api.post(f"{WEEK}/sign", json=ALL_OK, headers=OPERATOR)
    assert done.status_code == 201, done.text
    signed = done.json()["signed"]
    assert (signed["engineer"], signed["notes"], signed["seal"]["seq"]) == ("王芳", "泵房整洁", 1)
    again = await api.post(f"{WEEK}/sign", json=ALL_OK, headers=OPERATOR)
    assert again.status_code == 409 and "already signed" in again.json()["detail"]
    for method in ("PATCH", "PUT", "DELETE"):
        refused = await api.request(method, WEEK, headers=OPERATOR)
        assert refused.status_code == 405 and "never changes" in refused.json()["detail"]
    # Later data for that week does not change what was signed.
    week.change(week.at(6, 20), "fire-pump-1", "in_auto", False)
    week.report()
    assert (await api.get(WEEK)).json()["report"] == done.json()["report"]
    with week.sessions() as session:
        assert verify(session) == (1, [])
    with pytest.raises(DBAPIError, match="append-only"), week.sessions.begin() as session:
        session.execute(text("UPDATE inspections SET notes = 'changed'"))


async def test_an_unsigned_week_past_its_grace_raises_an_alarm_that_signing_clears(
    seeded: tuple[PumpRoomWeek, httpx.AsyncClient],
) -> None:
    week, api = seeded
    sites = {week.site.id: week.site}
    due = week.end + timedelta(days=2)  # grace_days: 2
    with week.sessions.begin() as session:
        signoff.tick(session, sites, due - timedelta(seconds=1))
    assert _overdue(week) is None
    with week.sessions.begin() as session:
        signoff.tick(session, sites, due)
    alarm = _overdue(week)
    assert alarm is not None and alarm.active and alarm.value == f"week of {MONDAY.isoformat()}"
    history = (await api.get("/api/inspection/rooms/pumproom-b2/history")).json()
    assert any(h["week"] == MONDAY.isoformat() and h["overdue"] for h in history)
    assert (await api.post(f"{WEEK}/sign", json=ALL_OK, headers=OPERATOR)).status_code == 201
    assert not _overdue(week).active  # type: ignore[union-attr]


def _overdue(week: PumpRoomWeek) -> AlarmRecord | None:
    with week.sessions() as session:
        return session.scalar(select(AlarmRecord).where(AlarmRecord.condition == "overdue"))


async def test_charts_and_the_print_ready_report(
    seeded: tuple[PumpRoomWeek, httpx.AsyncClient],
) -> None:
    _, api = seeded
    pressure = await api.get(f"{WEEK}/chart/pressure.svg")
    assert pressure.headers["content-type"] == "image/svg+xml"
    assert pressure.text.count('class="test-run"') == 2 and 'class="low-limit"' in pressure.text
    jockey = await api.get(f"{WEEK}/chart/jockey.svg")
    assert jockey.text.count('class="over"') == 1 and jockey.text.count('class="day"') == 6
    await api.post(f"{WEEK}/sign", json=ALL_OK, headers=OPERATOR)
    printed = await api.get(f"{WEEK}/print", params={"download": True})
    assert (
        'filename="inspection-pumproom-b2-2026-11-30.html"'
        in printed.headers["content-disposition"]
    )
    page = printed.text
    for expected in (
        "海景花园 Harbour View Gardens",
        "合格 Passed",
        "不合格 Failed",
        "<svg",
        "工程师 Engineer: <b>王芳</b>",
        "sealed, never changes",
        "跑冒滴漏",
    ):
        assert expected in page, expected


async def test_the_rooms_say_what_each_device_is(
    seeded: tuple[PumpRoomWeek, httpx.AsyncClient],
) -> None:
    _, api = seeded
    (room,) = (await api.get("/api/inspection/rooms")).json()
    parts = {d["id"]: d for d in room["devices"]}
    assert (parts["fire-pump-2"]["part"], parts["fire-pump-2"]["pump_kind"]) == ("pump", "diesel")
    assert (parts["valve-station-1"]["part"], parts["valve-station-1"]["normal"]) == ("valve", True)
    assert (parts["supply-pressure"]["part"], parts["supply-pressure"]["low"]) == ("supply", 0.35)
    assert parts["jockey-pump"]["part"] == "jockey" and parts["pumproom-leak"]["part"] == "leak"
