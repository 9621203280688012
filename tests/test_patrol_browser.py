"""The patrol board and the printable report in a real browser (Chromium) against a running cloud:
tours are seeded through the cloud's own store with the patrol test bench, at real times, and
the cloud's own patrol clock finds the missed checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from cloud.service import CloudService
from sitewatch.siteconfig import Site
from tests import test_console_browser
from tests.brokers import AmqttThread, MosquittoBroker
from tests.browser import assert_kept_through_refresh, open_on_test_clock, sign_in
from tests.conftest import cloud_settings, eventually
from tests.patrol_desk import LI, ZHANG, PatrolDesk, minutes, patrol_site
from tests.users import OPERATOR as ADMIN_TOKEN
from tests.users import seed as seed_users

OPERATOR = "王芳"  # the admin the pages log in as (tests/browser.py sign_in)
# The console tests' Chromium and page (which fails a test on any script error): shared, not copied.
browser = test_console_browser.browser
page = test_console_browser.page


@dataclass
class Patrol:
    cloud: CloudService
    desk: PatrolDesk
    api: httpx.AsyncClient
    started: datetime

    def local_date(self, at: datetime) -> str:
        return at.astimezone(ZoneInfo(self.desk.site.timezone)).date().isoformat()


@pytest.fixture
async def patrol(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path, db_url: str
) -> AsyncIterator[Patrol]:
    """A cloud watching the patrol test bench's site; the bench taps into the cloud's database."""
    site = patrol_site(example_site)
    cloud = CloudService(cloud_settings(broker, tmp_path, db_url), {site.id: site})
    now = datetime.now(UTC).replace(microsecond=0)
    desk = PatrolDesk(cloud.sessions, site, since=now - timedelta(hours=1))
    async with asyncio.TaskGroup() as group:
        task = group.create_task(cloud.run())
        await cloud.started()
        seed_users(cloud.sessions)
        async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=ADMIN_TOKEN) as api:
            yield Patrol(cloud, desk, api, now)
        task.cancel()


async def tour_of(patrol: Patrol, guard: str, status: str) -> dict:
    async def found() -> dict | None:
        tours = (await patrol.api.get("/api/patrol/tours", params={"guard": guard})).json()
        return next((t for t in tours["tours"] if t["status"] == status), None)

    return await eventually(found)


async def test_the_board_follows_guards_and_takes_an_incident(patrol: Patrol, page: Page) -> None:
    now = patrol.started
    # Li began a round 40 minutes ago and stopped after the first checkpoint: the cloud's clock
    # finds power and lift missed. Zhang is on tour now.
    li_start = now - minutes(40)
    patrol.desk.tap("b2", LI, li_start)
    patrol.desk.tap("b2", ZHANG, now - minutes(1))
    abandoned = await tour_of(patrol, "li-na", "incomplete")
    walking = await tour_of(patrol, "zhang-wei", "in_progress")

    await sign_in(page, f"{patrol.cloud.url}/patrol")
    row = page.locator('#in-progress tbody tr[data-guard="zhang-wei"]')
    await expect(row.locator("td.guard")).to_have_text("张伟 Zhang Wei")
    await expect(row.locator("td.last")).to_contain_text("消防通道 B2")
    await expect(row.locator("td.next")).to_contain_text("配电房")
    track = page.locator('#timeline [data-route="round"]')
    await expect(track.locator('.bar[data-outcome="in_progress"]')).to_have_count(1)
    await expect(page.locator('#next-due tbody tr[data-route="round"] .slot')).to_have_count(3)

    # The guard taps on: the board follows without a reload.
    patrol.desk.tap("power", ZHANG, datetime.now(UTC))
    await expect(row.locator("td.last")).to_contain_text("配电房")
    await expect(row.locator("td.next")).to_contain_text("电梯机房")

    # The abandoned round is red on its day's timeline.
    await page.locator("#timeline-date").fill(patrol.local_date(li_start))
    await page.locator("#timeline-date").dispatch_event("change")
    missed = track.locator(f'.bar[data-tour-id="{abandoned["id"]}"]')
    await expect(missed).to_have_attribute("data-outcome", "missed")

    # Report a leak at the power room on Zhang's tour: a major incident, so an alarm.
    await page.locator("#incident-checkpoint").select_option("power")
    await page.locator("#incident-category").select_option("leak")
    await page.locator("#incident-tour").select_option(str(walking["id"]))
    await page.locator("#incident-notes").fill("配电房地面积水 water on the floor")
    await page.locator("#incident-submit").click()
    await expect(page.locator(".toast.ok")).to_contain_text("alarm raised")
    line = page.locator('#incidents tbody tr[data-category="leak"]')
    await expect(line).to_contain_text("配电房地面积水 water on the floor")
    await expect(line).to_contain_text(OPERATOR)
    (incident,) = (await patrol.api.get("/api/patrol/incidents")).json()
    assert (incident["tour_id"], incident["reported_by"]) == (walking["id"], OPERATOR)
    alarm = (await patrol.api.get(f"/api/alarms/{incident['alarm_id']}")).json()["alarm"]
    assert (alarm["condition"], alarm["point"]) == ("incident", "power")
    await expect(line.locator("td.alarm a")).to_have_attribute(
        "href", f"/alarms/{incident['alarm_id']}"
    )

    # A refusal shows the server's reason under the form.
    await page.locator("#incident-checkpoint").select_option("pump")
    await page.locator("#incident-notes").fill("x")
    await page.locator("#incident-submit").click()
    await expect(page.locator("#incident-error")).to_contain_text("not on tour")


async def test_the_printable_report_lists_the_missed_checkpoints(
    patrol: Patrol, page: Page
) -> None:
    li_start = patrol.started - minutes(40)
    patrol.desk.tap("b2", LI, li_start)
    abandoned = await tour_of(patrol, "li-na", "incomplete")
    day = patrol.local_date(li_start)

    await sign_in(page, f"{patrol.cloud.url}/patrol/report?from={day}&to={day}&by=route")
    await expect(page.locator("#report-title")).to_contain_text(patrol.desk.site.name)
    await expect(page.locator("#report-period")).to_contain_text(f"{day} 至 to {day}")
    row = page.locator('#report-rows tbody tr[data-key="round"]')
    await expect(row.locator("td.tours")).to_have_text("1")
    await expect(row.locator("td.completion_rate")).to_have_text("0.0%")
    missed = page.locator(f'#report-missed tbody tr[data-tour-id="{abandoned["id"]}"]')
    await expect(missed.locator("td.checkpoint")).to_have_text(["配电房", "电梯机房"])
    await expect(missed.first).to_contain_text("李娜 Li Na")

    # The CSV link downloads the same numbers, for Excel.
    href = await page.locator("#csv-missed").get_attribute("href")
    assert href is not None and "format=csv" in href
    csv = await patrol.api.get(href)
    assert csv.headers["content-disposition"].startswith("attachment")
    assert "配电房" in csv.content.decode("utf-8-sig")
    # Print: the form and header are hidden, the report is black on white.
    await page.emulate_media(media="print")
    await expect(page.locator("#report-form")).to_be_hidden()
    await expect(page.locator("#report-missed")).to_be_visible()


async def test_a_refresh_that_changes_nothing_leaves_the_links_in_place(
    patrol: Patrol, page: Page
) -> None:
    """The board refreshes every 5 s and on every alarm change. Rebuilding a link between the
    press and the release of a click loses the click, and rebuilding the tour list closes it
    under the user, so a refresh that brings nothing new must leave the elements as they are."""
    patrol.desk.tap("b2", ZHANG, patrol.started - minutes(1))
    walking = await tour_of(patrol, "zhang-wei", "in_progress")
    made = await patrol.api.post(
        "/api/patrol/incidents",
        json={"checkpoint": "power", "category": "leak", "notes": "积水", "tour_id": walking["id"]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["alarm_id"] is not None, "a leak is major: it raises an alarm"
    await open_on_test_clock(page, f"{patrol.cloud.url}/patrol")
    await page.locator("#incident-tour").select_option(str(walking["id"]))
    # Past the refresh interval: the board and the incidents are fetched again, nothing changed.
    await assert_kept_through_refresh(
        page,
        [
            f'#incidents tbody tr[data-incident-id="{made.json()["id"]}"] td.alarm a',
            f'#incident-tour option[value="{walking["id"]}"]',
        ],
        "00:06",
    )
    await expect(page.locator("#incident-tour")).to_have_value(str(walking["id"]))
