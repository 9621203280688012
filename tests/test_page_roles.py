"""Every console page declares its roles (cloud.api.console.PAGES, the one list): walked here with
real session cookies from POST /api/auth/login. Anonymous visitors are sent to the login (303),
each role a page does not admit gets the 403 page naming those that may, each admitted role the
page. The login page and the static assets stay public."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Route

from cloud.api import console
from cloud.api.console import PAGES, Page
from cloud.api.security import SESSION_COOKIE
from cloud.app import create_app
from cloud.auth.roles import Role, allows
from cloud.db import make_engine, migrate, session_factory
from tests.db import sqlite_url
from tests.users import PASSWORD, USERS, headers
from tests.users import seed as seed_users

# Secure cookies travel over https only, as in a deployment: the test client speaks "https".
BASE = "https://console.test"


def example(page: Page) -> str:
    """An address the page's route matches: 1 for a number, a word for any other parameter."""
    return re.sub(r"\{(\w+)(:int)?\}", lambda m: "1" if m.group(2) else "b2", page.path)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for the module: the pages are files, so the database only holds the accounts
    (the API's own tests run each backend)."""
    engine = make_engine(sqlite_url(Path(tmp_path_factory.mktemp("pages"))))
    migrate(engine)
    seed_users(session_factory(engine))
    yield create_app(session_factory(engine), {})
    engine.dispose()


def client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False)


@pytest.fixture
def anonymous(app: FastAPI) -> TestClient:
    return client(app)


def log_in(app: FastAPI, role: Role) -> TestClient:
    browser = client(app)
    username, _ = USERS[role]
    answer = browser.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert browser.cookies.get(SESSION_COOKIE)
    return browser


@pytest.fixture(scope="module")
def logged_in(app: FastAPI) -> dict[Role, TestClient]:
    """One browser-like client per role, each holding the session cookie its login set."""
    return {role: log_in(app, role) for role in Role}


def test_every_console_page_is_in_the_list() -> None:
    """No page escapes the list: every route of the console but the public login and the
    static assets is one of PAGES."""
    served = {
        route.path
        for route in console.router.routes
        if isinstance(route, Route) and not route.path.startswith("/console/")
    }
    assert served == {page.path for page in PAGES} | {"/login"}
    assert len({page.path for page in PAGES}) == len(PAGES)


@pytest.mark.parametrize("page", PAGES, ids=[page.path for page in PAGES])
def test_a_page_admits_its_roles_only(
    page: Page, anonymous: TestClient, logged_in: dict[Role, TestClient]
) -> None:
    address = example(page)

    # Anonymous: to the login, told to come back here.
    answer = anonymous.get(address)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={quote(address, safe='')}"

    for role, browser in logged_in.items():
        answer = browser.get(address)
        if allows(page.roles, frozenset({role})):
            assert answer.status_code == 200, (role, answer.text)
            assert answer.headers["content-type"].startswith("text/html")
            assert "/console/js/user-badge.js" in answer.text  # the header: who, and Log out
        else:
            assert answer.status_code == 403, role
            assert f'data-roles="{", ".join(page.admitted)}"' in answer.text
            assert USERS[role][1] in answer.text  # "You are 张伟 (guard)"


def test_the_roles_of_the_pages() -> None:
    """The list says what the issue asks: who sees the parking, duty and pump-room pages."""
    admitted = {page.path: page.admitted for page in PAGES}
    everyone = sorted(Role)
    control_room = ["admin", "engineer", "manager", "operator"]
    assert admitted["/"] == admitted["/alarms/{alarm_id:int}"] == everyone
    assert admitted["/patrol"] == admitted["/patrol/report"] == everyone
    assert admitted["/parking"] == ["admin", "manager", "operator", "parking"]
    assert admitted["/duty"] == admitted["/pumproom/{room}/weeks/{monday}"] == control_room
    assert admitted["/admin"] == ["admin"]


def test_the_login_is_kept_in_the_address(anonymous: TestClient) -> None:
    answer = anonymous.get("/parking/report", params={"site": "harbour-view", "day": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "/login?next=%2Fparking%2Freport%3Fsite%3Dharbour-view%26day%3Dx"
    )


def test_the_login_page_and_assets_are_public(anonymous: TestClient) -> None:
    for path in ("/login", "/console/console.css", "/console/js/login.js", "/console/roles.json"):
        answer = anonymous.get(path)
        assert answer.status_code == 200, path


def test_roles_json_is_the_openapi_x_roles(app: FastAPI, anonymous: TestClient) -> None:
    roles = anonymous.get("/console/roles.json").json()
    assert roles["POST /api/alarms/{alarm_id}/acknowledge"] == ["admin", "engineer", "operator"]
    for key, admitted in roles.items():
        method, path = key.split(" ", 1)
        assert app.openapi()["paths"][path][method.lower()]["x-roles"] == admitted


def test_a_page_after_logout_sends_to_the_login(app: FastAPI) -> None:
    operator = log_in(app, Role.OPERATOR)
    assert operator.get("/duty").status_code == 200
    csrf = operator.get("/api/auth/me").json()["csrf"]
    cookie = operator.cookies.get(SESSION_COOKIE)
    assert operator.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    operator.cookies.set(SESSION_COOKIE, cookie or "", domain="console.test")  # kept, but ended
    answer = operator.get("/duty")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fduty"


def test_an_api_token_opens_pages_of_its_scope(anonymous: TestClient) -> None:
    """A page asked for with an API token answers as for its scope (curl, monitoring)."""
    assert anonymous.get("/parking", headers=headers(Role.PARKING)).status_code == 200
    assert anonymous.get("/parking", headers=headers(Role.GUARD)).status_code == 403
