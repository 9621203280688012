"""The gate API: what the gates decided (stored as they report it), opening a barrier from the
console, registering a stranger and letting it through, and the day report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.gates.tables import VehicleRegistration
from cloud.models import AlarmRecord, utcnow
from tests.gate_desk import GateDesk

RESIDENT = {"card": "0A00BC614E", "holder": "陈先生", "type": "resident"}


async def test_passes_are_stored_as_the_gate_decided_them_with_the_holder(desk: GateDesk) -> None:
    await desk.post("/api/cards", RESIDENT)
    now = utcnow()
    desk.gate_pass(
        now,
        card="0A00BC614E",
        card_type="resident",
        list_version=1,
        decide_ms=12.5,
        relay_confirmed=True,
        reader="entry-reader",
    )
    desk.gate_pass(now + timedelta(seconds=1), card="DEADBEEF", allowed=False, reason="unknown")
    passes = (await desk.api.get("/api/gates/passes")).json()
    assert [(p["card"], p["allowed"], p["holder"]) for p in passes] == [
        ("DEADBEEF", False, None),  # newest first
        ("0A00BC614E", True, "陈先生"),
    ]
    assert (passes[1]["decide_ms"], passes[1]["relay_confirmed"]) == (12.5, True)
    denied = (await desk.api.get("/api/gates/passes", params={"allowed": False})).json()
    assert [p["reason"] for p in denied] == ["unknown"]


async def test_a_lost_card_at_a_gate_raises_a_supervisory_alarm(
    desk: GateDesk, sessions: sessionmaker[Session]
) -> None:
    desk.gate_pass(utcnow(), card="0A00BC614E", allowed=False, reason="lost")
    with sessions() as session:
        (alarm,) = session.scalars(select(AlarmRecord).where(AlarmRecord.condition == "lost_card"))
        assert (alarm.category, alarm.value, alarm.point) == (
            "supervisory",
            "card 0A00BC614E",
            "lane-in",
        )


async def test_a_pass_on_a_lane_the_node_lacks_is_dead_lettered(
    desk: GateDesk, sessions: sessionmaker[Session]
) -> None:
    from cloud.store import Rejected

    with pytest.raises(Rejected, match="lane lane-x is not a parking lane of node gate"):
        desk.gate_pass(utcnow(), lane="lane-x")


async def test_an_operator_opens_a_barrier_and_says_why(desk: GateDesk) -> None:
    response = await desk.post("/api/gates/lane-in/open", {"reason": "救护车 ambulance"})
    assert response.status_code == 202
    assert desk.commands.sent == [
        (
            "harbour-view",
            "gate",
            "gate_open",
            {"lane": "lane-in", "by": "王芳", "reason": "救护车 ambulance"},
        ),
    ]
    assert (await desk.post("/api/gates/lane-9/open", {"reason": "x"})).status_code == 404
    assert (await desk.post("/api/gates/lane-in/open", {})).status_code == 422
    desk.commands.reachable = False
    offline = await desk.post("/api/gates/lane-in/open", {"reason": "test"})
    assert offline.status_code == 503 and "not opened" in offline.json()["detail"]


async def test_the_booth_registers_a_stranger_and_lets_it_through(
    desk: GateDesk, sessions: sessionmaker[Session]
) -> None:
    desk.gate_pass(utcnow(), card="DEADBEEF", allowed=False, reason="unknown")
    (denied,) = (await desk.api.get("/api/gates/passes")).json()
    body = {
        "lane": "lane-in",
        "plate": "粤b 88888",
        "driver": "刘师傅",
        "purpose": "unloading",
        "pass_id": denied["id"],
    }
    response = await desk.post("/api/gates/registrations", body)
    assert response.status_code == 201, response.text
    registered = response.json()
    assert (registered["plate"], registered["direction"], registered["sent"]) == (
        "粤B 88888",
        "in",
        True,
    )
    (_, node, name, args) = desk.commands.sent[0]
    assert (node, name, args["registered"], args["card"]) == ("gate", "gate_open", True, "DEADBEEF")
    with sessions() as session:
        (row,) = session.scalars(select(VehicleRegistration))
        assert (row.by, row.pass_id) == ("王芳", denied["id"])
    missing = await desk.post("/api/gates/registrations", {**body, "pass_id": 999})
    assert missing.status_code == 404


async def test_the_day_report_counts_flags_and_times_unloading(
    desk: GateDesk, sessions: sessionmaker[Session]
) -> None:
    now = utcnow()
    desk.gate_pass(now - timedelta(minutes=50), card="0A00BC614E", card_type="resident")
    desk.gate_pass(now - timedelta(minutes=40), card="11111111", card_type="staff")
    desk.gate_pass(
        now - timedelta(minutes=30),
        card="11111111",
        card_type="staff",
        lane="lane-out",
        direction="out",
    )
    desk.gate_pass(
        now - timedelta(minutes=20),
        card="0A00BC614E",
        card_type="resident",
        lane="lane-out",
        direction="out",
        violation=True,
    )
    desk.gate_pass(
        now - timedelta(minutes=19),
        card="0A00BC614E",
        allowed=False,
        reason="anti_passback",
        lane="lane-out",
        direction="out",
    )
    desk.gate_pass(
        now - timedelta(minutes=10), card="EEEE0001", card_type="emergency", reason="emergency"
    )
    desk.gate_pass(now - timedelta(minutes=5), card="DEADBEEF", allowed=False, reason="unknown")
    with sessions.begin() as session:
        for plate, direction, ago in (
            ("粤B11111", "in", 75),
            ("粤B11111", "out", 5),
            ("粤B22222", "in", 40),
            ("粤B33333", "in", 10),
        ):
            session.add(
                VehicleRegistration(
                    site="harbour-view",
                    lane="lane-in" if direction == "in" else "lane-out",
                    direction=direction,
                    plate=plate,
                    purpose="unloading",
                    let_through=True,
                    by="王芳",
                    at=now - timedelta(minutes=ago),
                )
            )
    report = (await desk.api.get("/api/gates/report")).json()
    assert (report["entries"], report["exits"]) == (3, 2)
    assert report["denied"] == {"anti_passback": 1, "unknown": 1}
    assert len(report["violations"]) == 2  # the soft one let through, the hard one denied
    assert [s["card"] for s in report["strangers"]] == ["DEADBEEF"]
    assert [e["card"] for e in report["emergency"]] == ["EEEE0001"]
    assert report["occupancy"] == {"emergency": 1, "stranger": 2}
    verdicts = {
        u["plate_or_card"]: (round(u["minutes"]), u["verdict"]) for u in report["unloading"]
    }
    assert verdicts == {
        "粤B11111": (70, "charged"),
        "粤B22222": (40, "over_free"),
        "粤B33333": (10, "free"),
    }


async def test_lanes_and_registrations_are_listed(desk: GateDesk) -> None:
    lanes = (await desk.api.get("/api/gates/lanes")).json()
    assert [(lane["id"], lane["direction"], lane["anti_passback"]) for lane in lanes] == [
        ("lane-in", "in", "hard"),
        ("lane-out", "out", "soft"),
    ]
    body = {"lane": "lane-out", "plate": "粤B99999", "purpose": "delivery", "let_through": False}
    assert (await desk.post("/api/gates/registrations", body)).status_code == 201
    (registered,) = (await desk.api.get("/api/gates/registrations")).json()
    assert (registered["plate"], registered["direction"], registered["sent"]) == (
        "粤B99999",
        "out",
        None,
    )
    report = (await desk.api.get("/api/gates/report")).json()
    assert (report["site_name"], report["unloading_free_min"]) == (desk.site.name, 30)
