"""Regression tests for what the API fuzzing found, and the request-body size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cloud.api.limits import MIB

TOO_BIG_ID = 2**63  # one past a 64-bit key: reached SQLite as an OverflowError, a 500


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/alarms/{TOO_BIG_ID}"),
        ("GET", f"/api/cards/{TOO_BIG_ID}"),
        ("POST", f"/api/cards/{TOO_BIG_ID}/suspend"),
        ("PATCH", f"/api/auth/users/{TOO_BIG_ID}"),
        ("DELETE", f"/api/auth/tokens/{TOO_BIG_ID}"),
        ("GET", f"/api/duty/handovers/{TOO_BIG_ID}"),
        ("GET", f"/api/patrol/tours/{TOO_BIG_ID}"),
    ],
)
async def test_an_id_past_64_bits_is_refused_not_a_500(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await api.request(method, path, json={})
    assert response.status_code == 422, response.text
    assert "less than or equal to 9223372036854775807" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/patrol/timeline?date=0001-01-01",
        "/api/patrol/report?from=0001-01-01",
        "/api/duty/log?day=9999-12-31",
        "/api/gates/report?day=0001-01-01",
        "/api/inspection/rooms/pumproom-b2/weeks/0001-01-01",
    ],
)
async def test_a_date_out_of_range_is_refused_not_a_500(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 422, response.text
    assert "between 1970-01-01 and 9000-12-31" in response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/alarms/acknowledge", {"ids": [1, TOO_BIG_ID]}),
        ("/api/duty/log", {"kind": "other", "text": "x", "alarm_id": TOO_BIG_ID}),
        (
            "/api/patrol/incidents",
            {
                "checkpoint": "cp-power-room",
                "category": "leak",
                "notes": "x",
                "tour_id": TOO_BIG_ID,
            },
        ),
    ],
)
async def test_a_body_id_past_64_bits_is_refused(
    api: httpx.AsyncClient, path: str, body: dict
) -> None:
    response = await api.post(path, json=body)
    assert response.status_code == 422, response.text
    assert "less than or equal to 9223372036854775807" in response.text


async def test_the_openapi_admits_the_one_sentence_422s(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    detail = schema["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    assert {"type": "string"} in detail["anyOf"]
    # And the routes do send one: a week named by a day that is not a Monday.
    response = await api.get("/api/inspection/rooms/pumproom-b2/weeks/2024-01-02")
    assert response.status_code == 422 and "not a Monday" in response.json()["detail"]


async def test_a_declared_body_over_1_mib_is_refused_unread(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/duty/log", content=b"x" * (MIB + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit of 1 MiB" in response.json()["detail"]


async def test_a_streamed_body_is_cut_off_once_over_the_limit(api: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered, no Content-Length
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    response = await api.post(
        "/api/duty/log", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit of 1 MiB" in response.json()["detail"]
    assert sent <= MIB + 128 * 1024  # reading stopped at the limit


async def test_the_card_import_may_send_more_than_1_mib(api: httpx.AsyncClient) -> None:
    # One row with an over-long holder: over 1 MiB, and quick for the importer to refuse.
    body = "card,type,holder\nC00000001,resident," + "x" * (MIB + 1024) + "\n"
    assert len(body.encode()) > MIB
    response = await api.post(
        "/api/cards/import", content=body.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    # The row is refused in words (a field over the csv module's limit used to be a 500).
    assert "not readable as CSV" in response.json()["errors"][0]["message"]
    too_big = await api.post(
        "/api/cards/import",
        content=b"x" * (10 * MIB + 1),
        headers={"Content-Type": "text/csv"},
    )
    assert too_big.status_code == 413
    assert "limit of 10 MiB" in too_big.json()["detail"]
