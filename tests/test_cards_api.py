"""The card API: issue, edit (never the dates), lost cards and when each gate blocked them,
suspension, extension, CSV import, and the list version each gate runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud.auth.roles import Role
from cloud.models import utcnow
from sitewatch import wire
from tests.gate_desk import OPERATOR, GateDesk, ms
from tests.users import headers

RESIDENT = {
    "card": "0A00BC614E",
    "holder": "陈先生",
    "unit": "3-1502",
    "plates": ["粤B12345"],
    "type": "resident",
}


async def test_issue_find_and_edit_a_card_but_never_its_dates(desk: GateDesk) -> None:
    created = await desk.post("/api/cards", RESIDENT)
    assert created.status_code == 201, created.text
    card = created.json()
    assert (card["status"], card["created_by"]) == ("active", "王芳")
    found = (await desk.api.get("/api/cards", params={"q": "粤B123"})).json()
    assert [c["id"] for c in found] == [card["id"]]
    edited = await desk.api.patch(
        f"/api/cards/{card['id']}", json={"unit": "3-1503"}, headers=OPERATOR
    )
    assert edited.json()["unit"] == "3-1503"
    refused = await desk.api.patch(
        f"/api/cards/{card['id']}", json={"valid_until": "2027-01-01"}, headers=OPERATOR
    )
    assert refused.status_code == 409
    assert "never edited" in refused.json()["detail"]
    detail = (await desk.api.get(f"/api/cards/{card['id']}")).json()
    assert [h["event"] for h in detail["history"]] == ["issued", "edited"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**RESIDENT, "type": "tourist"}, 422, "type"),
        ({**RESIDENT, "type": "temporary"}, 422, "a temporary pass needs valid_until"),
        ({**RESIDENT, "lanes": ["lane-9"]}, 409, "lane(s) lane-9 not configured"),
        ({**RESIDENT, "card": "04 AB"}, 422, "card"),
    ],
)
async def test_a_bad_card_is_refused_with_its_reason(
    desk: GateDesk, body: dict[str, object], status: int, message: str
) -> None:
    response = await desk.post("/api/cards", body)
    assert response.status_code == status
    assert message in response.text


async def test_only_parking_staff_change_cards(desk: GateDesk) -> None:
    anonymous = await desk.api.post("/api/cards", json=RESIDENT, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    operator = await desk.api.post("/api/cards", json=RESIDENT, headers=headers(Role.OPERATOR))
    assert operator.status_code == 403  # the control room sees cards, parking staff issue them
    parking = await desk.api.post("/api/cards", json=RESIDENT, headers=headers(Role.PARKING))
    assert parking.status_code == 201 and parking.json()["created_by"] == "刘洋"


async def test_a_lost_card_shows_how_long_each_gate_took_to_block_it(desk: GateDesk) -> None:
    card = (await desk.post("/api/cards", RESIDENT)).json()
    lost = (await desk.post(f"/api/cards/{card['id']}/lost", {"note": "丢在电梯里"})).json()
    assert lost["status"] == "lost"
    lists = (await desk.api.get("/api/cards/lists")).json()
    assert lists["version"] == 2
    assert lists["gates"] == [
        {"node": "gate", "version": None, "loaded_at": None, "count": None, "current": False}
    ]
    reported = utcnow()
    desk.report(wire.CardListLoaded(version=2, count=1, ts=ms(reported + timedelta(seconds=2))))
    detail = (await desk.api.get(f"/api/cards/{card['id']}")).json()
    (gate,) = detail["gates"]
    assert gate["node"] == "gate" and gate["version"] == 2
    assert 1.0 < gate["after_s"] < 10.0
    assert (await desk.api.get("/api/cards/lists")).json()["gates"][0]["current"] is True
    # An older report (a re-sent event) never moves the gate's version back.
    desk.report(wire.CardListLoaded(version=1, count=1, ts=ms(reported)))
    assert (await desk.api.get("/api/cards/lists")).json()["gates"][0]["version"] == 2


async def test_extending_a_pass_issues_a_new_one(desk: GateDesk) -> None:
    body = {**RESIDENT, "type": "temporary", "valid_until": "2027-03-01"}
    old = (await desk.post("/api/cards", body)).json()
    new = await desk.post(f"/api/cards/{old['id']}/extend", {"valid_until": "2027-06-01"})
    assert new.status_code == 201, new.text
    assert new.json()["replaces_id"] == old["id"]
    assert (await desk.api.get(f"/api/cards/{old['id']}")).json()["status"] == "expired"


async def test_suspend_and_reactivate(desk: GateDesk) -> None:
    card = (await desk.post("/api/cards", RESIDENT)).json()
    assert (await desk.post(f"/api/cards/{card['id']}/suspend")).json()["status"] == "suspended"
    again = await desk.post(f"/api/cards/{card['id']}/suspend")
    assert again.status_code == 409
    assert "only an active card can be suspended" in again.json()["detail"]
    assert (await desk.post(f"/api/cards/{card['id']}/reactivate")).json()["status"] == "active"
    assert (await desk.post("/api/cards/999/lost")).status_code == 404


async def test_csv_import_reports_each_bad_row_and_imports_the_rest(desk: GateDesk) -> None:
    text = "card,holder,type\n0A00BC614E,陈先生,resident\n,无卡号,resident\n11223344,访客,visitor\n"
    response = await desk.api.post(
        "/api/cards/import", content=text.encode(), headers={**OPERATOR, "Content-Type": "text/csv"}
    )
    result = response.json()
    assert (result["imported"], [e["line"] for e in result["errors"]]) == (1, [3, 4])
    bad = await desk.api.post(
        "/api/cards/import",
        content="卡".encode("gbk"),
        headers={**OPERATOR, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 422 and "not UTF-8" in bad.json()["detail"]
