"""Accounts: console login with HttpOnly cookies and CSRF, throttled failures, logout, scoped and
revocable API tokens of which only the hash is kept, and `sitewatch cloud create-admin`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.app import create_app
from cloud.auth.tables import ApiTokenRecord, LoginFailure, UserRecord
from sitewatch.cli import app as cli
from sitewatch.siteconfig import Site
from tests.users import OPERATOR, PASSWORD


@pytest.fixture
async def client(
    sessions: sessionmaker[Session], example_site: Site
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sessions, {example_site.id: example_site})
    transport = httpx.ASGITransport(app=app)
    # https: the session cookie is Secure, and httpx keeps it only for https URLs.
    async with httpx.AsyncClient(transport=transport, base_url="https://sitewatch") as http:
        yield http


async def login(
    client: httpx.AsyncClient, username: str = "zhaomin", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_a_console_session_needs_its_csrf_token_for_every_change(
    client: httpx.AsyncClient,
) -> None:
    response = await login(client)
    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["name"], me["roles"], me["via"]) == ("赵敏", ["operator"], "session")
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("sw_session="))
    assert all(flag in session_cookie.lower() for flag in ("httponly", "secure", "samesite=strict"))
    assert "httponly" not in next(c for c in cookies if c.startswith("sw_csrf=")).lower()

    assert (await client.get("/api/alarms")).status_code == 200  # reading needs no token
    body = {"kind": "other", "text": "交班前巡视"}
    forged = await client.post("/api/duty/log", json=body)
    assert forged.status_code == 403 and "CSRF token is missing or wrong" in forged.json()["detail"]
    wrong = await client.post("/api/duty/log", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    ok = await client.post("/api/duty/log", json=body, headers={"X-CSRF-Token": me["csrf"]})
    assert ok.status_code == 201 and ok.json()["author"] == "赵敏"

    out = await client.post("/api/auth/logout", headers={"X-CSRF-Token": me["csrf"]})
    assert out.status_code == 204
    client.cookies.set(
        "sw_session", session_cookie.split(";")[0].split("=", 1)[1], domain="sitewatch"
    )
    assert (await client.get("/api/alarms")).status_code == 401  # the session ended on the server


async def test_failed_logins_slow_the_next_attempts(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        wrong = await login(client, password="not it")
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong user name or password"
    throttled = await login(client)  # even the right password waits now
    assert throttled.status_code == 429
    assert "too many failed logins: try again in 1 s" in throttled.json()["detail"]
    assert throttled.headers["retry-after"] == "1"
    with sessions.begin() as session:  # the wait passes
        for failure in session.scalars(select(LoginFailure)):
            failure.last_at -= timedelta(seconds=2)
    assert (await login(client)).status_code == 200
    with sessions() as session:
        assert session.scalars(select(LoginFailure)).all() == []  # a success starts afresh
    unknown = await login(client, username="nobody")
    assert unknown.json()["detail"] == "wrong user name or password"  # never says which


async def test_tokens_are_scoped_revocable_and_kept_only_as_a_hash(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    made = await client.post(
        "/api/auth/tokens",
        json={"name": "停车场系统", "scopes": ["parking"], "username": "liuyang"},
        headers=OPERATOR,
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    card = {"card": "0A00BC614E", "holder": "陈先生", "type": "resident"}
    issued = await client.post("/api/cards", json=card, headers=bearer)
    assert issued.status_code == 201 and issued.json()["created_by"] == "刘洋"
    assert (
        await client.post("/api/duty/log", json={"kind": "other", "text": "x"}, headers=bearer)
    ).status_code == 403
    with sessions() as session:
        stored = session.scalars(
            select(ApiTokenRecord).where(ApiTokenRecord.name == "停车场系统")
        ).one()
        assert token not in (stored.token_hash, stored.name) and len(stored.token_hash) == 64
        user = session.scalars(select(UserRecord).where(UserRecord.username == "liuyang")).one()
        assert user.password_hash.startswith("$argon2id$")
    revoked = await client.delete(f"/api/auth/tokens/{made.json()['id']}", headers=OPERATOR)
    assert revoked.json()["revoked_at"] is not None
    after = await client.get("/api/cards", headers=bearer)
    assert after.status_code == 401 and "unknown or revoked" in after.json()["detail"]
    too_wide = await client.post(
        "/api/auth/tokens",
        json={"name": "x", "scopes": ["admin"], "username": "liuyang"},
        headers=OPERATOR,
    )
    assert too_wide.status_code == 409 and "only give a token the scope parking" in too_wide.text


async def test_a_disabled_account_is_out_at_once(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        user_id = session.scalars(
            select(UserRecord.id).where(UserRecord.username == "zhaomin")
        ).one()
    changed = await client.patch(
        f"/api/auth/users/{user_id}", json={"active": False}, headers=OPERATOR
    )
    assert changed.json()["active"] is False
    assert (await login(client)).status_code == 401


def test_create_admin_bootstraps_the_first_admin(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"  # type: ignore[operator]
    short = CliRunner().invoke(
        cli, ["cloud", "create-admin", "--db", url, "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    made = CliRunner().invoke(
        cli,
        [
            "cloud",
            "create-admin",
            "--db",
            url,
            "--username",
            "boss",
            "--name",
            "站长",
            "--password-stdin",
        ],
        input="a long enough secret\n",
    )
    assert made.exit_code == 0, made.output
    assert "admin boss created" in " ".join(made.output.split())


async def test_the_last_active_admin_cannot_be_demoted_or_disabled(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        admin = session.scalars(select(UserRecord).where(UserRecord.username == "wangfang")).one()
    for change in ({"role": "operator"}, {"active": False}):
        refused = await client.patch(f"/api/auth/users/{admin.id}", json=change, headers=OPERATOR)
        assert refused.status_code == 409 and "last active admin" in refused.json()["detail"]
    body = {"username": "boss", "name": "站长", "role": "admin", "password": "another long secret"}
    assert (await client.post("/api/auth/users", json=body, headers=OPERATOR)).status_code == 201
    demoted = await client.patch(
        f"/api/auth/users/{admin.id}", json={"role": "manager"}, headers=OPERATOR
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "manager"
