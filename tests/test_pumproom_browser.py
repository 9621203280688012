"""The pump-room page and the printable weekly report in a real browser (Chromium) against a
running cloud: a seeded past week with a failed diesel test run and a leaking jockey pump, the
pumps' live status, the charts, the engineer's checklist and signature, the seal, the print-ready
report, and a second signature refused with the API's words."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import insert

from cloud.api.deps import clock_now
from cloud.auth.roles import Role
from cloud.models import PointRecord
from cloud.service import CloudService
from sitewatch.siteconfig import Site
from tests import test_console_browser
from tests.brokers import AmqttThread, MosquittoBroker
from tests.browser import assert_kept_through_refresh, open_on_test_clock, sign_in
from tests.conftest import cloud_settings
from tests.pumproom_week import MONDAY, NODE, PumpRoomWeek
from tests.users import OPERATOR as ADMIN_TOKEN
from tests.users import seed as seed_users

ENGINEER = "王芳"  # the admin the page logs in as (tests/browser.py sign_in); she may sign
ROOM = "pumproom-b2"
# The Wednesday after the seeded week: it is last week, unsigned and past its 2-day grace.
NOW = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
# The console tests' Chromium and page (which fails a test on any script error): shared, not copied.
browser = test_console_browser.browser
page = test_console_browser.page

# What the room's devices read now: pump 2 left in manual, the valve closed.
NOW_POINTS: dict[str, dict[str, Any]] = {
    "fire-pump-1": {
        "running": False,
        "in_auto": True,
        "power_available": True,
        "start_cause": "none",
        "fault": False,
    },
    "fire-pump-2": {"running": False, "in_auto": False, "start_cause": "none", "fuel_level": 88},
    "jockey-pump": {"running": True, "in_auto": True},
    "valve-station-1": {"valve_open": False},
    "supply-pressure": {"pressure": 0.58},
    "fire-tank": {"level": 3.2, "low_float": False},
    "pumproom-leak": {"zone1": False, "zone2": False, "zone3": False, "zone4": False},
}


@dataclass
class PumpRoomDesk:
    cloud: CloudService
    site: Site
    api: httpx.AsyncClient

    @property
    def week(self) -> str:
        return f"/api/inspection/rooms/{ROOM}/weeks/{MONDAY.isoformat()}"


def _seed_now(cloud: CloudService, site: Site) -> None:
    stamp = int(NOW.timestamp() * 1000)
    rows = [
        {
            "site": site.id,
            "node": NODE,
            "device": device,
            "point": point,
            "value": value,
            "quality": "good",
            "source_ts": stamp,
            "stream": "browser-test",
            "seq": n,
        }
        for n, (device, point, value) in enumerate(
            (d, p, v) for d, points in NOW_POINTS.items() for p, v in points.items()
        )
    ]
    with cloud.sessions.begin() as session:
        session.execute(insert(PointRecord), rows)


@pytest.fixture
async def desk(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path, db_url: str
) -> AsyncIterator[PumpRoomDesk]:
    """A cloud on a clock of its own (NOW), with last week's pump room seeded in its database."""
    cloud = CloudService(cloud_settings(broker, tmp_path, db_url), {example_site.id: example_site})
    cloud.app.dependency_overrides[clock_now] = lambda: NOW
    week = PumpRoomWeek(cloud.sessions, example_site)
    week.healthy()
    week.run("fire-pump-1", week.at(0, 9), 12)
    week.run("fire-pump-2", week.at(0, 10), 8)  # a diesel needs 30 minutes: failed
    for n in range(14):  # more than the jockey's 12 starts a day
        week.change(week.at(2, 1 + n), "jockey-pump", "running", True)
        week.change(week.at(2, 1 + n) + timedelta(minutes=1), "jockey-pump", "running", False)
    week.report()  # writes the seeded rows
    _seed_now(cloud, example_site)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(cloud.run())
        await cloud.started()
        seed_users(cloud.sessions)
        async with httpx.AsyncClient(base_url=cloud.url, timeout=10, headers=ADMIN_TOKEN) as api:
            yield PumpRoomDesk(cloud, example_site, api)
        task.cancel()


async def _fill_checklist(page: Page) -> None:
    checks = page.locator("#checklist fieldset.check")
    await expect(checks).to_have_count(5)
    for n in range(await checks.count()):
        await checks.nth(n).locator("input[value=ok]").check()
    # One item not OK, with the engineer's note.
    light = page.locator('#checklist fieldset[data-item="emergency_light"]')
    await light.locator("input[value=not-ok]").check()
    await light.locator("input.note").fill("应急灯电池需更换 battery to replace")
    await page.locator("#sign-notes").fill("泵房整洁，2#柴油泵试验时间不足，已安排重做")


async def test_the_engineer_reviews_last_week_signs_and_prints_it(
    desk: PumpRoomDesk, page: Page, browser: Browser
) -> None:
    # One pump room: /pumproom goes straight to it.
    await sign_in(page, f"{desk.cloud.url}/pumproom")
    await expect(page).to_have_url(f"{desk.cloud.url}/pumproom/{ROOM}")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#site-name")).to_have_text(desk.site.name)

    # Every pump's current status, anything abnormal marked.
    pump1 = page.locator('#status-devices [data-device="fire-pump-1"]')
    await expect(pump1).to_contain_text("自动 AUTO")
    await expect(pump1).to_contain_text("有电 Available")
    await expect(pump1).to_contain_text("停止 Stopped")
    manual = page.locator('#status-devices [data-device="fire-pump-2"] .fact[data-ok="false"]')
    await expect(manual).to_contain_text("手动 MANUAL")
    valve = page.locator('#status-devices [data-device="valve-station-1"] .fact')
    await expect(valve).to_have_attribute("data-ok", "false")
    await expect(page.locator('#status-devices [data-device="jockey-pump"]')).to_contain_text(
        "运行 RUNNING"
    )
    await expect(page.locator('#status-devices [data-device="supply-pressure"]')).to_contain_text(
        "0.580 MPa"
    )

    # This week has no data yet: every device shows its gap, never "fine".
    await expect(page.locator("#week")).to_have_attribute("data-week", "2026-12-07")
    await expect(page.locator('#availability tr[data-gaps="0"]')).to_have_count(0)

    # Last week is overdue: the banner and the history say so and link to it.
    await expect(page.locator("#last-week-banner")).to_contain_text("未签字 is not signed")
    overdue = page.locator(f'#history tbody tr[data-week="{MONDAY.isoformat()}"]')
    await expect(overdue).to_have_attribute("data-overdue", "true")
    await expect(overdue.locator("td.status")).to_contain_text("OVERDUE")
    await overdue.locator("a.week-link").click()
    await expect(page).to_have_url(f"{desk.cloud.url}/pumproom/{ROOM}/weeks/{MONDAY.isoformat()}")
    await expect(page.locator("#week")).to_have_attribute("data-week", MONDAY.isoformat())

    # The week's findings: the diesel's test run too short, the jockey over its limit.
    failed = page.locator('#findings-table tr[data-code="test_run_failed"]')
    await expect(failed).to_have_attribute("data-severity", "high")
    await expect(failed).to_contain_text("less than the 30 min required (NFPA 25)")
    jockey = page.locator('#findings-table tr[data-code="jockey_over_limit"]')
    await expect(jockey).to_contain_text("跑冒滴漏")
    await expect(page.locator('#jockey tr[data-over="true"]')).to_have_count(1)
    diesel = page.locator('#pumps [data-pump="fire-pump-2"] .verdict')
    await expect(diesel).to_have_attribute("data-verdict", "failed")
    await expect(page.locator('#pumps [data-pump="fire-pump-1"] .verdict')).to_have_attribute(
        "data-verdict", "passed"
    )

    # The charts load (server-side SVG).
    for name in ("pressure", "jockey"):
        chart = page.locator(f"#chart-{name}")
        await expect(chart).to_have_attribute("data-state", "loaded")
        assert await chart.evaluate("img => img.naturalWidth") > 0

    # A second engineer has the same week open and starts on the checklist.
    other = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    stale = await other.new_page()
    await sign_in(stale, page.url, Role.ENGINEER)
    await expect(stale.locator("#sign-form")).to_be_visible()
    await _fill_checklist(stale)

    # The engineer answers every item and signs: sealed.
    await _fill_checklist(page)
    await page.locator("#sign-submit").click()
    sealed = page.locator("#sealed")
    await expect(sealed).to_contain_text("已签字封存 signed and sealed")
    await expect(sealed.locator("#sealed-engineer")).to_have_text(ENGINEER)
    await expect(sealed.locator("#seal")).to_contain_text("#1")
    await expect(page.locator("#sign-form")).to_be_hidden()
    await expect(page.locator('#signed-checklist tr[data-item="emergency_light"]')).to_contain_text(
        "battery to replace"
    )
    signed = (await desk.api.get(desk.week)).json()["signed"]
    assert signed["engineer"] == ENGINEER
    await expect(sealed.locator("#seal code")).to_have_text(signed["seal"]["hash"])

    # The printable report and its download.
    href = await page.locator("#print-link").get_attribute("href")
    assert href == f"{desk.week}/print"
    download = await page.locator("#download-link").get_attribute("href")
    assert download == f"{desk.week}/print?download=true"
    filed = await desk.api.get(download)
    assert "attachment" in filed.headers["content-disposition"]
    printed = await page.context.new_page()
    await printed.goto(f"{desk.cloud.url}{href}")
    body = printed.locator("body")
    await expect(body).to_contain_text(desk.site.name)
    await expect(body).to_contain_text(f"工程师 Engineer: {ENGINEER}")
    await expect(body).to_contain_text(f"封存 Sealed record #1 · sha256 {signed['seal']['hash']}")
    await expect(body).to_contain_text("不合格 Failed")
    assert await printed.locator("svg").count() == 2

    # The second engineer signs too: refused, in the API's words.
    await stale.locator("#sign-submit").click()
    error = stale.locator("#sign-error")
    await expect(error).to_be_visible()
    await expect(error).to_have_text(
        re.compile(
            rf"the week of {MONDAY.isoformat()} is already signed; a signed report never changes"
        )
    )
    await expect(stale.locator("#sealed-engineer")).to_have_text(ENGINEER)
    await other.close()
    assert (await desk.api.get(desk.week)).json()["signed"]["engineer"] == ENGINEER


async def test_an_operator_reads_the_week_but_is_offered_no_sign_off(
    desk: PumpRoomDesk, page: Page
) -> None:
    """Only engineers sign (roles.json): an operator sees the week and a hint, not a form that
    would answer 403."""
    await sign_in(page, f"{desk.cloud.url}/pumproom", Role.OPERATOR)
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#signoff")).to_be_visible()
    await expect(page.locator("#sign-form")).to_be_hidden()
    await expect(page.locator('[data-role-hint="sign-form"]')).to_contain_text(
        "Your role may not sign off an inspection"
    )


async def test_a_refresh_that_changes_nothing_leaves_the_links_in_place(
    desk: PumpRoomDesk, page: Page
) -> None:
    """The page refreshes every few seconds and on every alarm change of the room. Rebuilding a
    link between the press and the release of a click loses the click, so a refresh that brings
    nothing new must leave the elements as they are."""
    await open_on_test_clock(page, f"{desk.cloud.url}/pumproom")
    # A minute on: the status and the report are both fetched again, and nothing has changed.
    await assert_kept_through_refresh(
        page,
        [
            f'#history tbody tr[data-week="{MONDAY.isoformat()}"] a.week-link',
            "#last-week-link",
            '#status-devices [data-device="fire-pump-1"]',
            "#report table",
        ],
        "01:00",
        counters=("status", "report"),
    )
