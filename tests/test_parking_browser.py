"""The parking page and the printable day report in a real browser (Chromium) against a running
cloud: gate passes and card-list loads are seeded through the cloud's own store as the gate node
reports them (the gate test bench), and barrier commands go out through the real broker."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from playwright.async_api import Browser, Page, expect

from cloud.api.console import PAGES
from cloud.auth.roles import Role, allows
from cloud.gates.tables import VehicleRegistration
from cloud.service import CloudService
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests import test_console_browser
from tests.brokers import AmqttThread, MosquittoBroker
from tests.browser import assert_kept_through_refresh, open_on_test_clock, sign_in
from tests.conftest import cloud_settings, eventually
from tests.gate_desk import GateDesk, RecordedCommands, ms
from tests.users import OPERATOR as ADMIN_TOKEN
from tests.users import seed as seed_users

OPERATOR = "王芳"  # the admin the pages log in as (tests/browser.py sign_in)
# The console tests' Chromium and page (which fails a test on any script error): shared, not copied.
browser = test_console_browser.browser
page = test_console_browser.page


class CommandWatch:
    """A subscriber on the gate node's gate_open command topic: what the cloud sent the gate."""

    def __init__(self, broker: MosquittoBroker | AmqttThread, site: str, node: str) -> None:
        self.commands: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-cmd-{uuid.uuid4().hex[:8]}"
        )
        topic = f"sw/v1/{site}/{node}/cmd/gate_open"
        self.client.on_connect = lambda c, *_: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect(broker.address.host, broker.address.port)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.commands.append(json.loads(message.payload)["args"])

    async def next_where(self, **args: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            with self._lock:
                return next(
                    (c for c in self.commands if all(c.get(k) == v for k, v in args.items())),
                    None,
                )

        async def check() -> dict[str, Any] | None:
            return found()

        return await eventually(check)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Parking:
    cloud: CloudService
    desk: GateDesk  # seeds the gate's reports into the cloud's database
    api: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"{self.cloud.url}/parking"


@pytest.fixture
def commands(broker: MosquittoBroker | AmqttThread, example_site: Site) -> Iterator[CommandWatch]:
    watch = CommandWatch(broker, example_site.id, "gate")
    assert watch.subscribed.wait(5), "the command subscriber did not subscribe"
    yield watch
    watch.close()


@pytest.fixture
async def parking(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path, db_url: str
) -> AsyncIterator[Parking]:
    """A cloud watching the example site (its garage gate node); no gate edge runs."""
    cloud = CloudService(cloud_settings(broker, tmp_path, db_url), {example_site.id: example_site})
    async with asyncio.TaskGroup() as group:
        task = group.create_task(cloud.run())
        await cloud.started()
        seed_users(cloud.sessions)
        async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=ADMIN_TOKEN) as api:
            # The bench's own command recorder is unused: the cloud sends through the broker.
            desk = GateDesk(cloud.sessions, example_site, api, RecordedCommands())
            yield Parking(cloud, desk, api)
        task.cancel()


def card_row(page: Page, number: str, status: str | None = None) -> Any:
    selector = f'#cards tbody tr[data-card="{number}"]'
    return page.locator(f'{selector}[data-status="{status}"]' if status else selector)


async def test_a_card_is_issued_found_reported_lost_and_blocked_at_the_gate(
    parking: Parking, page: Page
) -> None:
    await sign_in(page, parking.url)
    await page.locator("#issue-card").fill("0a00bc614e")
    await page.locator("#issue-holder").fill("陈先生")
    await page.locator("#issue-unit").fill("3-1502")
    await page.locator("#issue-plates").fill("粤B12345")
    await page.locator("#issue-type").select_option("resident")
    await page.locator("#issue-submit").click()
    await expect(page.locator(".toast.ok")).to_contain_text("已发卡 Issued: 0A00BC614E")

    # The same number again is refused, and the server's reason shows under the form.
    await page.locator("#issue-card").fill("0A00BC614E")
    await page.locator("#issue-holder").fill("李四")
    await page.locator("#issue-submit").click()
    await expect(page.locator("#issue-error")).to_contain_text("already issued")

    # Found by its plate.
    await page.locator("#card-q").fill("粤b123")
    await page.locator("#card-filters button[type=submit]").click()
    row = card_row(page, "0A00BC614E")
    await expect(row).to_have_count(1)
    await expect(row.locator("td.holder")).to_have_text("陈先生")
    await expect(page).to_have_url(f"{parking.url}?q=%E7%B2%A4b123")

    # Reported lost: a confirmation with a note, then the status in words.
    await row.locator('button[data-action="lost"]').click()
    await page.locator("#dialog-lost textarea").fill("业主书面报失 written report")
    await page.locator("#dialog-lost button[type=submit]").click()
    await expect(page.locator("#dialog-lost")).to_have_count(0)
    await expect(row).to_have_attribute("data-status", "lost")
    await expect(row.locator("td.status")).to_have_text("已挂失 Lost")
    await expect(row.locator('button[data-action="reactivate"]')).to_have_count(0)
    (card,) = (await parking.api.get("/api/cards", params={"q": "0A00BC614E"})).json()
    assert (card["status"], card["reported_lost_by"]) == ("lost", OPERATOR)

    # Its detail: the history, and the gate has not loaded the blocking list yet.
    await row.locator("button.details").click()
    detail = page.locator("#card-detail")
    await expect(detail).to_have_attribute("data-status", "lost")
    lost = page.locator('#card-history tr[data-event="reported_lost"]')
    await expect(lost.locator("td.by")).to_have_text(OPERATOR)
    await expect(lost.locator("td.detail")).to_contain_text("业主书面报失 written report")
    block = page.locator('#card-blocks tr[data-node="gate"] td.block')
    await expect(block).to_contain_text("尚未生效 Not blocked yet")
    gate_list = page.locator('#lists tbody tr[data-node="gate"]')
    await expect(gate_list).to_have_attribute("data-current", "false")

    # The gate reports it loaded the newest list 4 s after the report: the page follows.
    version = (await parking.api.get("/api/cards/lists")).json()["version"]
    reported = datetime.fromisoformat(card["reported_lost_at"])
    parking.desk.report(
        wire.CardListLoaded(version=version, count=1, ts=ms(reported + timedelta(seconds=4)))
    )
    await expect(block).to_contain_text("已在 4.0 秒后生效 blocked 4.0 s after the report")
    await expect(gate_list).to_have_attribute("data-current", "true")


async def test_csv_import_shows_the_bad_row_and_a_pass_is_extended(
    parking: Parking, page: Page
) -> None:
    until = (datetime.now(UTC) + timedelta(days=30)).date()
    csv = (
        "card,holder,unit,plates,type,valid_from,valid_until,lanes,notes\n"
        f"11223344,装修工人 刘,5-902,粤B55555,temporary,,{until.isoformat()},lane-in,装修\n"
        "55667788,访客 王,,,boat,,,,\n"
    )
    await sign_in(page, parking.url)
    await page.locator("#import-file").set_input_files(
        files=[{"name": "cards.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    await page.locator("#import-submit").click()
    await expect(page.locator("#import-count")).to_contain_text("已导入 Imported 1")
    bad = page.locator('#import-errors tbody tr[data-line="3"]')
    await expect(bad).to_contain_text("55667788")
    await expect(bad.locator("td.message")).to_contain_text("type")
    await expect(page.locator("#import-errors tbody tr")).to_have_count(1)
    await expect(card_row(page, "11223344")).to_have_count(1)

    # Extend the pass: a new pass is issued and the old one expires; the dates were not edited.
    new_end = until + timedelta(days=90)
    await card_row(page, "11223344").locator('button[data-action="extend"]').click()
    await page.locator("#field-valid_until").fill(new_end.isoformat())
    await page.locator("#dialog-extend button[type=submit]").click()
    await expect(page.locator("#dialog-extend")).to_have_count(0)
    await expect(card_row(page, "11223344", "expired")).to_have_count(1)
    await expect(card_row(page, "11223344", "active")).to_contain_text(new_end.isoformat())

    # Edit the holder: saved; the edit dialog has no date fields at all.
    active = card_row(page, "11223344", "active")
    await active.locator('button[data-action="edit"]').click()
    await expect(page.locator("#dialog-edit input[name^=valid]")).to_have_count(0)
    await page.locator("#field-holder").fill("装修工人 刘师傅")
    await page.locator("#dialog-edit button[type=submit]").click()
    await expect(active.locator("td.holder")).to_have_text("装修工人 刘师傅")


async def test_the_booth_registers_a_stranger_opens_a_barrier_and_the_report_times_unloading(
    parking: Parking, page: Page, commands: CommandWatch
) -> None:
    now = datetime.now(UTC)
    parking.desk.gate_pass(now, card="DEADBEEF", allowed=False, reason="unknown")
    (denied,) = (await parking.api.get("/api/gates/passes")).json()

    await sign_in(page, parking.url)
    row = page.locator(f'#passes tbody tr[data-pass-id="{denied["id"]}"]')
    await expect(row).to_have_class("denied stranger")
    await expect(row.locator("td.result")).to_contain_text("拒绝 Denied 未知卡 Unknown card")
    await row.locator("button.register").click()
    await page.locator("#field-plate").fill("粤b 88888")
    await page.locator("#field-driver").fill("刘师傅")
    await page.locator("#field-purpose").select_option("unloading")
    await page.locator("#dialog-register button[type=submit]").click()
    await expect(page.locator(".toast.ok")).to_contain_text("已开闸 barrier opened")
    await expect(row.locator(".registered")).to_have_text("已登记 Registered")
    await expect(row).not_to_have_class("denied stranger")

    report = (await parking.api.get("/api/gates/report")).json()
    (registration,) = report["registrations"]
    assert (registration["pass_id"], registration["plate"], registration["by"]) == (
        denied["id"],
        "粤B 88888",
        OPERATOR,
    )
    sent = await commands.next_where(registered=True)
    assert (sent["lane"], sent["card"], sent["by"]) == ("lane-in", "DEADBEEF", OPERATOR)

    # Every lane of the site has its control by name, even one no car has passed yet.
    await expect(page.locator("form.lane-open .lane-name")).to_contain_text(
        ["入口 Entry lane", "出口 Exit lane"]
    )
    # Open the barrier from the console: the reason travels with the command.
    await page.locator("#open-reason-lane-in").fill("救护车 ambulance")
    await page.locator('form.lane-open[data-lane="lane-in"] button').click()
    await expect(page.locator(".toast.ok").last).to_contain_text(
        "已发送开闸 Open sent: 入口 Entry lane (lane-in, gate)"
    )
    opened = await commands.next_where(reason="救护车 ambulance")
    assert opened["by"] == OPERATOR
    # With the broker unreachable nothing is sent, and the page says so.
    reachable = parking.cloud.app.state.commands
    parking.cloud.app.state.commands = RecordedCommands(reachable=False)
    try:
        await page.locator("#open-reason-lane-in").fill("测试 test")
        await page.locator('form.lane-open[data-lane="lane-in"] button').click()
        await expect(page.locator('form.lane-open[data-lane="lane-in"] .error')).to_contain_text(
            "the barrier was not opened"
        )
    finally:
        parking.cloud.app.state.commands = reachable

    # A van registered for unloading 70 minutes ago is still inside: charged, highlighted.
    with parking.cloud.sessions.begin() as session:
        session.add(
            VehicleRegistration(
                site=parking.desk.site.id,
                lane="lane-in",
                direction="in",
                plate="粤B 66666",
                purpose="unloading",
                let_through=True,
                by=OPERATOR,
                at=now - timedelta(minutes=70),
            )
        )
    await page.goto(f"{parking.cloud.url}/parking/report")
    # The header names the site; the definitions say this site's unloading limits.
    await expect(page.locator("#report-title")).to_contain_text(parking.desk.site.name)
    await expect(page.locator("#def-free")).to_have_text("30")
    await expect(page.locator("#def-charged")).to_have_text("60")
    free = page.locator('#report-unloading tr[data-plate="粤B 88888"]')
    await expect(free).to_have_attribute("data-verdict", "free")
    await expect(free.locator("td.verdict")).to_have_text("免费 Free")
    charged = page.locator('#report-unloading tr[data-plate="粤B 66666"]')
    await expect(charged).to_have_class("verdict-charged")
    await expect(charged.locator("td.verdict")).to_have_text(
        "收费 Charged（超过60分钟 past 60 min）"
    )
    await expect(page.locator('#report-denied tr[data-key="unknown"] td.count')).to_have_text("1")
    strangers = page.locator(f'#report-strangers tr[data-pass-id="{denied["id"]}"]')
    await expect(strangers).to_contain_text("DEADBEEF")
    await expect(page.locator("#report-registrations td.plate")).to_contain_text(["粤B 88888"])
    await page.emulate_media(media="print")
    await expect(page.locator("#report-form")).to_be_hidden()
    await expect(page.locator("#report-unloading")).to_be_visible()


async def test_a_manager_sees_the_cards_but_no_card_or_barrier_controls(
    parking: Parking, page: Page
) -> None:
    """A manager reads the cards and gates but may change nothing (roles.json): the forms and
    the row actions are left out, each with a hint, instead of controls that answer 403."""
    made = await parking.api.post(
        "/api/cards", json={"card": "0A00BC614E", "holder": "陈先生", "type": "resident"}
    )
    assert made.status_code == 201, made.text
    await sign_in(page, parking.url, Role.MANAGER)
    row = card_row(page, "0A00BC614E", "active")
    await expect(row.locator("td.holder")).to_have_text("陈先生")
    await expect(row.locator("button.details")).to_be_visible()
    await expect(row.locator("button[data-action]")).to_have_count(0)
    await expect(page.locator("#issue-form")).to_be_hidden()
    await expect(page.locator('[data-role-hint="issue-form"]')).to_contain_text(
        "Your role may not issue cards"
    )
    await expect(page.locator("#import-form")).to_be_hidden()
    await expect(page.locator("#lanes")).to_be_hidden()
    await expect(page.locator('[data-role-hint="lanes"]')).to_contain_text("open a barrier")


async def test_a_parking_clerks_header_links_only_the_pages_the_role_opens(
    parking: Parking, page: Page
) -> None:
    await sign_in(page, parking.url, Role.PARKING)
    links = page.locator("nav.pages a:visible")
    await expect(links).to_have_count(3)
    for path in ("/", "/patrol", "/parking"):
        await expect(page.locator(f'nav.pages a[href="{path}"]')).to_be_visible()
    for path in ("/duty", "/pumproom"):
        await expect(page.locator(f'nav.pages a[href="{path}"]')).to_be_hidden()
    # The clerk's own controls stay: issuing cards is the clerk's job.
    await expect(page.locator("#issue-form")).to_be_visible()
    await expect(page.locator("[data-role-hint]")).to_have_count(0)


async def test_every_roles_header_links_are_the_pages_it_may_open(
    parking: Parking, browser: Browser
) -> None:
    """The header's links (from roles.json) agree with each page's roles (PAGES): no role is
    offered a page that answers 403, and none misses one it may open."""
    linked = ("/", "/patrol", "/parking", "/duty", "/pumproom")
    pages = {page.path: page for page in PAGES}
    for role in Role:
        context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        tab = await context.new_page()
        await sign_in(tab, f"{parking.cloud.url}/", role)
        shown = await tab.locator("nav.pages a:visible").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        wanted = [p for p in linked if allows(pages[p].roles, frozenset({role}))]
        assert shown == wanted, role
        await context.close()


async def test_a_refresh_that_changes_nothing_leaves_the_buttons_in_place(
    parking: Parking, page: Page
) -> None:
    """The gate activity refreshes every 3 s and on every alarm change. Rebuilding a button
    between the press and the release of a click loses the click, so a refresh that brings
    nothing new must leave the rows as they are."""
    parking.desk.gate_pass(datetime.now(UTC), card="DEADBEEF", allowed=False, reason="unknown")
    (denied,) = (await parking.api.get("/api/gates/passes")).json()
    await open_on_test_clock(page, parking.url)
    row = f'#passes tbody tr[data-pass-id="{denied["id"]}"]'
    # Past the refresh interval: the passes are fetched again, and nothing has changed.
    await assert_kept_through_refresh(
        page,
        [
            row,
            f"{row} button.register",
        ],
        "00:05",
    )
