"""The live console in a real browser (Chromium), against the real stack: simulator → edge → cloud."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from cloud.auth.roles import Role
from tests.browser import TcpGate, launch_chromium, sign_in
from tests.conftest import Stack, eventually
from tests.users import USERS

# The control room's operator (a seeded account): records name the logged-in user.
OPERATOR = USERS[Role.OPERATOR][1]
# Through the edge's poll, the broker and ingest an alarm takes well under a second; the margin
# is for a loaded CI machine. The page itself must follow the store within a second.
expect.set_options(timeout=10_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert errors == [], f"the console threw: {errors}"


async def stored_alarm(stack: Stack, device: str, point: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        alarms = await stack.alarms()
        return next((a for a in alarms if a["device"] == device and a["point"] == point), None)

    return await eventually(found)


def row_of(page: Page, alarm: dict[str, Any]) -> Locator:
    return page.locator(f'#alarms tbody tr[data-alarm-id="{alarm["id"]}"]')


async def history(stack: Stack, alarm: dict[str, Any]) -> list[dict[str, Any]]:
    return (await stack.get(f"/api/alarms/{alarm['id']}"))["history"]


async def test_an_alarm_appears_live_and_is_acknowledged_from_the_keyboard(
    stack: Stack, page: Page
) -> None:
    await sign_in(page, stack.cloud.url, Role.OPERATOR)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    # The sign-in was the user gesture: the page may now sound alarms.
    await expect(page.locator("#sound")).to_have_attribute("data-audio", "on")
    await expect(page.locator('#nodes [data-node="pumproom"]')).to_have_attribute(
        "data-online", "true"
    )

    await stack.room.leak("pumproom-leak", zone=2)
    leak = await stored_alarm(stack, "pumproom-leak", "zone2")
    row = row_of(page, leak)
    # Pushed by the stream: the page shows it within a second of the store having it.
    await expect(row).to_be_visible(timeout=1_000)
    await expect(row).to_contain_text("Water leak zone 2")
    await expect(row).to_contain_text("B2 pump room floor")
    await expect(row).to_have_attribute("data-state", "unacknowledged")
    await expect(row.locator("td.state")).to_contain_text("未确认 Unacknowledged")

    # Select it with the keyboard (Home: the top row is the newest unacknowledged) and press a.
    await page.keyboard.press("Home")
    await expect(row).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("a")
    await expect(row).to_have_attribute("data-state", "acknowledged")
    await expect(row.locator("td.state")).to_contain_text("已确认 Acknowledged")
    await expect(row.locator("td.state")).to_contain_text(OPERATOR)
    acked = [h for h in await history(stack, leak) if h["event"] == "acknowledged"]
    assert [h["by"] for h in acked] == [OPERATOR]

    # A comment through its dialog: c, type, Ctrl+Enter.
    await page.keyboard.press("c")
    await page.locator("#dialog-comment textarea").fill("已通知工程部 engineering informed")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#dialog-comment")).to_have_count(0)
    await expect(row).to_contain_text("已通知工程部 engineering informed")
    comments = [h for h in await history(stack, leak) if h["event"] == "commented"]
    assert [(h["by"], h["note"]) for h in comments] == [
        (OPERATOR, "已通知工程部 engineering informed")
    ]

    # Enter opens the detail page: fields, the audit trail and the point's recent values.
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{stack.cloud.url}/alarms/{leak['id']}")
    await expect(page.locator("#alarm")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#alarm-title")).to_contain_text("Water leak zone 2")
    ack_line = page.locator('#history tr[data-event="acknowledged"]')
    await expect(ack_line.locator("td.by")).to_have_text(OPERATOR)
    await expect(page.locator("#history tr[data-event='commented'] td.note")).to_have_text(
        "已通知工程部 engineering informed"
    )
    await expect(page.locator("#values tbody tr[data-quality='good']").first).to_contain_text(
        "true"
    )

    # Live on the detail page too: the leak stops and the page says so without a reload.
    await stack.room.leak("pumproom-leak", zone=2, active=False)
    await expect(page.locator("#alarm")).to_have_attribute("data-active", "false")


async def test_filters_apply_live_and_stay_in_the_url(stack: Stack, page: Page) -> None:
    await sign_in(page, stack.cloud.url, Role.OPERATOR)
    await page.select_option("#filter-category", "fire")
    await expect(page).to_have_url(f"{stack.cloud.url}/?category=fire")

    await stack.room.leak("pumproom-leak", zone=1)
    await stack.room.waterflow("valve-station-1")
    leak = await stored_alarm(stack, "pumproom-leak", "zone1")
    flow = await stored_alarm(stack, "valve-station-1", "waterflow")
    await stored_alarm(stack, "valve-station-1", "pressure_switch")
    await expect(row_of(page, flow)).to_be_visible()
    await expect(row_of(page, leak)).to_have_count(0)

    # A link keeps the filters: reload, and only the fire alarm shows.
    await page.reload()
    await expect(page.locator("#filter-category")).to_have_value("fire")
    await expect(row_of(page, flow)).to_be_visible()
    await expect(row_of(page, leak)).to_have_count(0)
    await page.locator("#filter-clear").click()
    await expect(page).to_have_url(f"{stack.cloud.url}/")
    await expect(row_of(page, leak)).to_be_visible()


async def test_a_click_holds_when_the_page_above_the_filters_grows_during_it(
    stack: Stack, page: Page
) -> None:
    await sign_in(page, stack.cloud.url, Role.OPERATOR)
    await page.select_option("#filter-category", "trouble")
    await expect(page).to_have_url(f"{stack.cloud.url}/?category=trouble")
    await expect(page.locator("#nodes .node[data-node='pumproom']")).to_be_visible()
    await expect(page.locator("#empty")).not_to_have_text("加载中 Loading…")  # the list is in
    await expect(page).not_to_have_title(re.compile("FIRE"))
    clear = page.locator("#filter-clear")
    before = await clear.bounding_box()
    assert before is not None
    await page.mouse.move(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    await page.mouse.down()

    # Fire alarms arrive while the operator holds Clear down: the banner above the filters
    # would grow by a line each and move the button away.
    await stack.room.waterflow("valve-station-1")
    flow = await stored_alarm(stack, "valve-station-1", "waterflow")
    await stored_alarm(stack, "valve-station-1", "pressure_switch")
    # The page has them (the tab's title, which moves nothing, says a fire alarm sounds)...
    await expect(page).to_have_title(re.compile("FIRE"))
    # ...and the button has not moved.
    assert await clear.bounding_box() == before

    await page.mouse.up()
    await expect(page).to_have_url(f"{stack.cloud.url}/")
    await expect(row_of(page, flow)).to_be_visible()
    # Released, the banner is drawn.
    await expect(page.locator("#fire-banner .fire-list li")).to_have_count(2)


async def test_a_fire_alarm_sounds_until_acknowledged_and_mute_is_per_alarm(
    stack: Stack, page: Page
) -> None:
    await sign_in(page, stack.cloud.url, Role.OPERATOR)
    banner = page.locator("#fire-banner")
    await expect(banner).to_have_attribute("data-sounding", "false")

    # Waterflow trips two fire points (flow and the alarm-valve pressure switch).
    await stack.room.waterflow("valve-station-1")
    flow = await stored_alarm(stack, "valve-station-1", "waterflow")
    switch = await stored_alarm(stack, "valve-station-1", "pressure_switch")
    await expect(row_of(page, flow)).to_be_visible()
    await expect(banner).to_have_attribute("data-sounding", "true")
    await expect(banner).to_contain_text("FIRE ALARM sounding")
    for alarm in (flow, switch):
        await expect(banner.locator(f'li[data-alarm-id="{alarm["id"]}"]')).to_be_visible()

    # Mute silences the alarms sounding now; they still wait for acknowledgement.
    await page.locator("#mute").click()
    await expect(banner).to_have_attribute("data-sounding", "false")
    await expect(banner).to_have_attribute("data-muted", "true")
    await expect(row_of(page, flow)).to_have_attribute("data-state", "unacknowledged")

    # A later fire alarm sounds again, by itself.
    await stack.room.pump_start("fire-pump-1", cause="demand")
    demand = await stored_alarm(stack, "fire-pump-1", "start_cause")
    await expect(banner).to_have_attribute("data-sounding", "true")
    await expect(banner.locator(f'li[data-alarm-id="{demand["id"]}"]')).to_be_visible()
    await expect(banner.locator(f'li[data-alarm-id="{flow["id"]}"]')).to_have_count(0)

    # Resetting a fire alarm whose condition is still there is refused; the server's reason shows.
    await row_of(page, flow).locator("td.text").click()
    await page.keyboard.press("r")
    await page.keyboard.press("Enter")
    error = page.locator("#dialog-reset .error")
    await expect(error).to_be_visible()
    refusal = await stack.api.post(f"/api/alarms/{flow['id']}/reset", json={})
    assert refusal.status_code == 409
    await expect(error).to_have_text(refusal.json()["detail"])
    await page.keyboard.press("Escape")
    await expect(page.locator("#dialog-reset")).to_have_count(0)

    # Acknowledge all visible (A, then Enter to confirm): the sounder stops.
    await expect(row_of(page, demand)).to_be_visible()
    await expect(page.locator("#dialog-reset")).to_have_count(0)
    await page.keyboard.press("A")
    await expect(page.locator("#dialog-acknowledge-all")).to_contain_text("Acknowledge 3 alarm(s)")
    await page.keyboard.press("Enter")
    for alarm in (flow, switch, demand):
        await expect(row_of(page, alarm)).to_have_attribute("data-state", "acknowledged")
        acked = [h for h in await history(stack, alarm) if h["event"] == "acknowledged"]
        assert [h["by"] for h in acked] == [OPERATOR]
    await expect(banner).to_have_attribute("data-sounding", "false")
    await expect(banner).to_be_hidden()

    # Once the water stops the latched alarm can be reset, and it leaves the list.
    await stack.room.waterflow("valve-station-1", active=False)
    await expect(row_of(page, flow)).to_have_attribute("data-active", "false")
    await row_of(page, flow).locator("td.text").click()
    await page.keyboard.press("r")
    await page.locator("#dialog-reset input").fill("现场确认无火情 checked on site")
    await page.locator("#dialog-reset button[type=submit]").click()
    await expect(row_of(page, flow)).to_have_count(0)
    resets = [h for h in await history(stack, flow) if h["event"] == "reset"]
    assert [(h["by"], h["note"]) for h in resets] == [(OPERATOR, "现场确认无火情 checked on site")]


async def test_a_dropped_stream_shows_disconnected_and_recovers(stack: Stack, page: Page) -> None:
    async with TcpGate(stack.cloud.url) as gate:
        await sign_in(page, gate.url, Role.OPERATOR)
        connection = page.locator("#connection")
        await expect(connection).to_have_attribute("data-state", "live")

        gate.cut()
        await expect(connection).to_have_attribute("data-state", "disconnected")
        await expect(connection).to_contain_text("连接中断 Disconnected — reconnecting…")

        # What happens meanwhile is in the snapshot that follows the reconnect.
        await stack.room.leak("pumproom-leak", zone=4)
        leak = await stored_alarm(stack, "pumproom-leak", "zone4")
        await expect(row_of(page, leak)).to_have_count(0)

        gate.restore()
        await expect(connection).to_have_attribute("data-state", "reconnected")
        await expect(connection).to_contain_text("已重新连接 Reconnected")
        await expect(row_of(page, leak)).to_be_visible()
        await expect(connection).to_have_attribute("data-state", "live")
