"""Logging in to the console in a real browser (Chromium): the redirect to /login and back, wrong
passwords and the throttle, a guard kept off the parking desk and away from acknowledging alarms,
the CSRF check, logging out, and the accounts page minting and revoking an API token.

The session cookie is Secure (the default): Chromium treats http://127.0.0.1 as a secure
context and keeps it, so the tests run the cloud as deployed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from cloud.api.security import SESSION_COOKIE
from cloud.auth.roles import Role
from cloud.service import CloudService
from sitewatch.siteconfig import Site
from tests import test_console_browser
from tests.brokers import AmqttThread, MosquittoBroker
from tests.browser import CHROMIUM, sign_in
from tests.conftest import cloud_settings
from tests.test_duty import raise_fault
from tests.users import PASSWORD, USERS, headers
from tests.users import seed as seed_users

# The console tests' Chromium and page (which fails a test on any script error): shared, not copied.
browser = test_console_browser.browser
page = test_console_browser.page

FETCH = """async ([path, method, csrf]) => {
    const headers = { "Content-Type": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = decodeURIComponent(
        document.cookie.split("; ").find((c) => c.startsWith("sw_csrf="))?.slice(8) ?? "");
    const response = await fetch(path, { method, headers, body: method === "GET" ? undefined : "{}" });
    return [response.status, await response.text()];
}"""


@dataclass
class Console:
    cloud: CloudService
    site: Site
    url: str


@pytest.fixture
async def console(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path
) -> AsyncIterator[Console]:
    """A cloud of its own (the login throttle counts per client, and every test is 127.0.0.1)."""
    cloud = CloudService(cloud_settings(broker, tmp_path), {example_site.id: example_site})
    assert cloud.app.state.secure_cookies  # as deployed: the session cookie is Secure
    async with asyncio.TaskGroup() as group:
        task = group.create_task(cloud.run())
        await cloud.started()
        seed_users(cloud.sessions)
        yield Console(cloud, example_site, cloud.url)
        task.cancel()


async def call(page: Page, path: str, method: str = "POST", csrf: bool = True) -> tuple[int, str]:
    """A request from the page itself (its cookies, its origin), as a script on it would send."""
    status, body = await page.evaluate(FETCH, [path, method, csrf])
    return status, body


async def submit_login(page: Page, username: str, password: str) -> None:
    await page.locator("#login-username").fill(username)
    await page.locator("#login-password").fill(password)
    await page.locator("#login-submit").click()


async def test_an_anonymous_page_goes_to_the_login_and_back(console: Console, page: Page) -> None:
    await page.goto(f"{console.url}/duty?site={console.site.id}")
    await expect(page).to_have_url(f"{console.url}/login?next=%2Fduty%3Fsite%3D{console.site.id}")
    await submit_login(page, USERS[Role.OPERATOR][0], PASSWORD)
    await expect(page).to_have_url(f"{console.url}/duty?site={console.site.id}")
    await expect(page.locator("#user-name")).to_have_text(USERS[Role.OPERATOR][1])
    await expect(page.locator("#user-role")).to_contain_text("Operator")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies[SESSION_COOKIE]
    assert (session["httpOnly"], session["secure"], session["sameSite"]) == (True, True, "Strict")
    # Only an admin's header links to the accounts page.
    await expect(page.locator("#admin-link")).to_have_count(0)


async def test_wrong_passwords_are_told_and_then_throttled(console: Console, page: Page) -> None:
    await page.goto(f"{console.url}/login")
    error = page.locator("#login-error")
    await submit_login(page, "zhangwei", "not the password")
    await expect(error).to_have_text("登录失败 Login failed: wrong user name or password")
    await expect(page).to_have_url(f"{console.url}/login")

    # Failures in a row make each next try wait: the page says so, with the wait.
    for _ in range(8):
        await submit_login(page, "zhangwei", "still not it")
        await expect(page.locator("#login-submit")).to_be_enabled()
        if "Too many attempts" in (await error.text_content() or ""):
            break
    await expect(error).to_have_text(
        re.compile(r"请 \d+ 秒后再试 Too many attempts: too many failed logins: try again in \d+ s")
    )
    # While throttled even the right password waits.
    await submit_login(page, "zhangwei", PASSWORD)
    await expect(error).to_contain_text("Too many attempts")
    await expect(page).to_have_url(f"{console.url}/login")


async def test_a_guard_cannot_open_parking_nor_acknowledge(console: Console, page: Page) -> None:
    fault = raise_fault(console.cloud.sessions, console.site, datetime.now(UTC))
    await sign_in(page, console.url, Role.GUARD)

    # The guard sees the alarm, without an acknowledge button, here or on its page.
    row = page.locator(f'#alarms tbody tr[data-alarm-id="{fault}"]')
    await expect(row).to_have_attribute("data-state", "unacknowledged")
    await expect(row.locator("button.action-acknowledge")).to_have_count(0)
    await row.locator("td.text").click()
    await expect(page.locator("#selected-actions")).to_contain_text("已选 Selected")
    await expect(page.locator("#selected-actions button.action")).to_have_count(0)
    await page.goto(f"{console.url}/alarms/{fault}")
    await expect(page.locator("#alarm")).to_have_attribute("data-state", "unacknowledged")
    await expect(page.locator("#detail-actions button")).to_have_count(0)

    # A forced POST (with a valid CSRF token) is refused by the server, naming the roles.
    status, body = await call(page, f"/api/alarms/{fault}/acknowledge")
    assert status == 403
    assert "your role (guard) may not do this" in body

    # The parking desk is not for guards: a 403 page that says who may see it.
    answer = await page.goto(f"{console.url}/parking")
    assert answer is not None and answer.status == 403
    await expect(page.locator("#forbidden-roles")).to_have_text("admin, manager, operator, parking")
    await expect(page.locator("#user-name")).to_have_text(USERS[Role.GUARD][1])


async def test_a_change_without_the_csrf_token_is_refused(console: Console, page: Page) -> None:
    fault = raise_fault(console.cloud.sessions, console.site, datetime.now(UTC))
    await sign_in(page, console.url, Role.OPERATOR)
    status, body = await call(page, f"/api/alarms/{fault}/acknowledge", csrf=False)
    assert status == 403
    assert "CSRF" in body
    # The same request with the token is the operator's to make.
    status, body = await call(page, f"/api/alarms/{fault}/acknowledge")
    assert status == 200, body


async def test_logout_ends_the_session(console: Console, page: Page) -> None:
    await sign_in(page, f"{console.url}/patrol", Role.OPERATOR)
    cookie = next(c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert (await call(page, "/api/auth/me", "GET"))[0] == 200

    await page.locator("#logout").click()
    await expect(page).to_have_url(f"{console.url}/login")
    assert (await call(page, "/api/auth/me", "GET"))[0] == 401
    # The session is over on the server too: its old cookie, put back, opens nothing.
    await page.context.add_cookies([cookie])  # type: ignore[list-item]
    assert (await call(page, "/api/auth/me", "GET"))[0] == 401
    await page.goto(f"{console.url}/patrol")
    await expect(page).to_have_url(f"{console.url}/login?next=%2Fpatrol")


async def test_an_ended_session_sends_a_page_to_the_login(console: Console, page: Page) -> None:
    """An action on a page whose session ended elsewhere goes to the login, then back."""
    fault = raise_fault(console.cloud.sessions, console.site, datetime.now(UTC))
    await sign_in(page, f"{console.url}/alarms/{fault}", Role.OPERATOR)
    await expect(page.locator("#detail-actions button.action-acknowledge")).to_be_enabled()
    await page.context.clear_cookies()
    await page.locator("#detail-actions button.action-acknowledge").click()
    await expect(page).to_have_url(f"{console.url}/login?next=%2Falarms%2F{fault}")


async def test_the_accounts_page_mints_and_revokes_a_token(
    console: Console, page: Page, browser: Browser
) -> None:
    await sign_in(page, f"{console.url}/admin")
    users = page.locator("#users tbody tr")
    await expect(users).to_have_count(len(USERS))

    # A new operator account, which then logs in elsewhere.
    form = page.locator("#user-form")
    await form.locator("input[name=name]").fill("孙丽")
    await form.locator("input[name=username]").fill("sunli")
    await form.locator("select[name=role]").select_option("operator")
    await form.locator("input[name=password]").fill("a long enough password")
    await form.locator("button[type=submit]").click()
    sunli = page.locator('#users tbody tr[data-username="sunli"]')
    await expect(sunli).to_contain_text("孙丽")
    await expect(sunli.locator("select.user-role")).to_have_value("operator")
    async with httpx.AsyncClient(base_url=console.url) as api:
        login = {"username": "sunli", "password": "a long enough password"}
        assert (await api.post("/api/auth/login", json=login)).status_code == 200
        # Made a manager, then disabled: the account can no longer log in.
        await sunli.locator("select.user-role").select_option("manager")
        await expect(page.locator(".toast.ok").last).to_contain_text("孙丽")
        await sunli.locator("button.user-active").click()
        await expect(sunli).to_have_attribute("data-active", "false")
        assert (await api.post("/api/auth/login", json=login)).status_code == 401
        accounts = (await api.get("/api/auth/users", headers=headers())).json()
        made = next(u for u in accounts if u["username"] == "sunli")
        assert (made["role"], made["active"]) == ("manager", False)

        # A token for an integration: shown once, works like curl would use it.
        tokens = page.locator("#token-form")
        await tokens.locator("input[name=name]").fill("bms-integration")
        await tokens.locator("select[name=scope]").select_option("manager")
        await tokens.locator("select[name=username]").select_option("chenjl")
        await tokens.locator("button[type=submit]").click()
        secret = page.locator("#token-secret")
        await expect(secret).to_have_text(re.compile(r"^sw_\S{20,}$"))
        token = await secret.text_content()
        bearer = {"Authorization": f"Bearer {token}"}
        me = (await api.get("/api/auth/me", headers=bearer)).json()
        assert (me["username"], me["roles"], me["via"]) == ("chenjl", ["manager"], "token")
        assert (await api.get("/api/duty/shifts", headers=bearer)).status_code == 200
        assert (await api.post("/api/duty/log", headers=bearer, json={})).status_code == 403

        # Listed without its secret, and revoked from the page: refused at once.
        row = page.locator('#tokens tbody tr[data-name="bms-integration"]')
        await expect(row).to_contain_text("Manager")
        assert token not in (await page.locator("#tokens").inner_text())
        await row.locator("button.token-revoke").click()
        await expect(row).to_have_attribute("data-revoked", "true")
        assert (await api.get("/api/auth/me", headers=bearer)).status_code == 401


async def test_plain_http_from_another_machine_says_the_login_was_not_kept(
    console: Console,
) -> None:
    """Chromium drops the Secure cookie from a plain-HTTP address that is not this machine: the
    login page must say so rather than loop back to itself."""
    port = console.url.rsplit(":", 1)[1]
    async with async_playwright() as playwright:
        remote = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--host-resolver-rules=MAP console.example 127.0.0.1"],
        )
        page = await remote.new_page()
        await page.goto(f"http://console.example:{port}/login")
        await submit_login(page, USERS[Role.OPERATOR][0], PASSWORD)
        await expect(page.locator("#login-error")).to_contain_text(
            "The browser did not keep the session: open the console over HTTPS"
        )
        await remote.close()
