"""The duty API: write the log, sign and accept a handover, and every attempt to change a
record afterwards refused with what to do instead."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.records.seal import verify
from tests.gate_desk import OPERATOR


async def post(api: httpx.AsyncClient, path: str, body: object) -> httpx.Response:
    return await api.post(path, json=body, headers=OPERATOR)


async def test_a_handover_signed_and_accepted_is_sealed_and_relieves_the_shift(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    written = await post(api, "/api/duty/log", {"kind": "status_check", "text": "各设备正常"})
    assert written.status_code == 201, written.text
    on_duty = (await api.get("/api/duty/status")).json()["on_duty"]
    assert written.json()["shift"] == on_duty["id"] and written.json()["author"] == "王芳"

    draft = (await api.get("/api/duty/handover/draft")).json()
    assert [e["text"] for e in draft["log"]] == ["各设备正常"]
    signed = await post(
        api, "/api/duty/handovers", {"signers": ["王芳", "李强"], "notes": "无异常"}
    )
    assert signed.status_code == 201, signed.text
    handover = signed.json()
    again = await post(api, "/api/duty/handovers", {"signers": ["王芳"]})
    assert again.status_code == 409 and "already signed" in again.json()["detail"]

    one = await post(api, f"/api/duty/handovers/{handover['id']}/accept", {"staff": ["赵敏"]})
    assert one.status_code == 409 and "at least 2 incoming staff" in one.json()["detail"]
    body = {"staff": ["赵敏", "刘洋"], "remarks": "2号泵待修"}
    accepted = await post(api, f"/api/duty/handovers/{handover['id']}/accept", body)
    assert accepted.status_code == 200, accepted.text
    detail = (await api.get(f"/api/duty/handovers/{handover['id']}")).json()
    assert (detail["status"], detail["remarks"]) == ("accepted", "2号泵待修")
    assert [s["name"] for s in detail["incoming"]] == ["赵敏", "刘洋"]
    assert detail["seal"]["seq"] == 1 and len(detail["seal"]["hash"]) == 64
    with sessions() as session:
        assert verify(session) == (1, [])


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
async def test_edits_through_the_api_are_refused(api: httpx.AsyncClient, method: str) -> None:
    entry = (await post(api, "/api/duty/log", {"kind": "other", "text": "原文"})).json()
    refused = await api.request(
        method, f"/api/duty/log/{entry['id']}", json={"text": "改"}, headers=OPERATOR
    )
    assert refused.status_code == 405
    assert "write a correction that names it (corrects_id)" in refused.json()["detail"]
    signed = (await post(api, "/api/duty/handovers", {"signers": ["王芳"]})).json()
    refused = await api.request(method, f"/api/duty/handovers/{signed['id']}", headers=OPERATOR)
    assert refused.status_code == 405 and "never changed" in refused.json()["detail"]
    log = (await api.get("/api/duty/log")).json()
    assert [e["text"] for e in log] == ["原文"]


async def test_a_correction_names_the_entry_it_corrects(api: httpx.AsyncClient) -> None:
    first = (
        await post(api, "/api/duty/log", {"kind": "phone_call", "text": "物业来电 10:05"})
    ).json()
    fix = {"kind": "phone_call", "text": "更正：来电时间 10:50", "corrects_id": first["id"]}
    assert (await post(api, "/api/duty/log", fix)).status_code == 201
    log = {e["id"]: e for e in (await api.get("/api/duty/log")).json()}
    assert len(log[first["id"]]["corrected_by"]) == 1
    missing = await post(api, "/api/duty/log", {**fix, "corrects_id": 999})
    assert missing.status_code == 409 and "entry 999 to correct does not exist" in missing.text


async def test_bad_entries_get_a_4xx_naming_the_problem(api: httpx.AsyncClient) -> None:
    kind = await post(api, "/api/duty/log", {"kind": "gossip", "text": "x"})
    assert kind.status_code == 409 and "unknown entry kind 'gossip'" in kind.json()["detail"]
    empty = await post(api, "/api/duty/log", {"kind": "other", "text": ""})
    assert empty.status_code == 422
    alarm = await post(api, "/api/duty/log", {"kind": "alarm_handled", "text": "x"})
    assert "needs alarm_id, location, cause, handling" in alarm.json()["detail"]
    anonymous = await api.post(
        "/api/duty/log", json={"kind": "other", "text": "x"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401


async def test_the_shifts_and_a_roster_below_two_is_flagged(api: httpx.AsyncClient) -> None:
    shifts = (await api.get("/api/duty/shifts")).json()
    assert [s["id"] for s in shifts["shifts"]] == ["night", "day", "evening"]
    assert shifts["violations"] == []
    status = (await api.get("/api/duty/status")).json()
    on = status["on_duty"]
    roster = await api.put(
        f"/api/duty/roster/{on['id']}/{on['date']}", json={"staff": ["王芳"]}, headers=OPERATOR
    )
    assert roster.json()["staff"] == ["王芳"]
    status = (await api.get("/api/duty/status")).json()
    assert any("has 1 on duty; GB 25201 wants at least 2" in v for v in status["violations"])
