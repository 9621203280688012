"""Every API route declares its roles (x-roles in the OpenAPI); walk them all: anonymous gets
401, each role not admitted gets 403, and no route is left open by accident."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.app import create_app
from cloud.auth.roles import Role
from sitewatch.siteconfig import Site
from tests.users import headers

PUBLIC = {("post", "/api/auth/login")}


@pytest.fixture
async def app_and_routes(
    sessions: sessionmaker[Session], example_site: Site
) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[str, str, list[str]]]]]:
    app = create_app(sessions, {example_site.id: example_site})
    routes = [
        (method, path, operation.get("x-roles", []))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, routes


def _concrete(path: str) -> str:
    """A path with every parameter filled in; the checks come before the parameters are read."""
    return re.sub(r"\{[^}]+\}", "1", path)


async def _call(
    client: httpx.AsyncClient, method: str, path: str, auth: dict[str, str]
) -> httpx.Response:
    body: Any = {} if method in ("post", "put", "patch") else None
    return await client.request(method.upper(), _concrete(path), json=body, headers=auth)


async def test_every_route_declares_roles_and_refuses_anonymous_and_wrong_roles(
    app_and_routes: tuple[httpx.AsyncClient, list[tuple[str, str, list[str]]]],
) -> None:
    client, routes = app_and_routes
    assert len(routes) > 60
    for method, path, roles in routes:
        if (method, path) in PUBLIC:
            assert roles == ["public"], (method, path)
            continue
        assert roles and "admin" in roles, f"{method} {path} declares no roles"
        anonymous = await _call(client, method, path, {})
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        assert anonymous.headers.get("www-authenticate") == "Bearer"
        for role in Role:
            if role.value in roles:
                continue
            refused = await _call(client, method, path, headers(role))
            assert refused.status_code == 403, (method, path, role, refused.status_code)
            assert f"your role ({role.value}) may not do this" in refused.json()["detail"]


async def test_an_admitted_role_gets_past_the_check(
    app_and_routes: tuple[httpx.AsyncClient, list[tuple[str, str, list[str]]]],
) -> None:
    client, routes = app_and_routes
    for method, path, roles in routes:
        if (method, path) in PUBLIC or path.endswith("/stream"):
            continue
        role = Role(next(r for r in roles if r != "admin")) if len(roles) > 1 else Role.ADMIN
        response = await _call(client, method, path, headers(role))
        assert response.status_code not in (401, 403), (method, path, role, response.text)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"Authorization": "Basic d2FuZzpmYW5n"}, "send an API token as 'Authorization: Bearer"),
        ({"Authorization": "Bearer sw_not_a_token"}, "the API token is unknown or revoked"),
        ({"Cookie": "sw_session=forged"}, "your session has ended: log in again"),
    ],
)
async def test_bad_credentials_are_refused_with_what_is_wrong(
    app_and_routes: tuple[httpx.AsyncClient, list[tuple[str, str, list[str]]]],
    auth: dict[str, str],
    message: str,
) -> None:
    client, _ = app_and_routes
    response = await client.get("/api/alarms", headers=auth)
    assert response.status_code == 401 and message in response.json()["detail"]
