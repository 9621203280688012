"""The duty page and the sealed handover record in a real browser (Chromium) against a running
cloud: an operator logs an entry and corrects it, the outgoing staff sign the handover while the
page says they remain on duty, the incoming staff accept it with a remark, and the printable
record shows everything that was sealed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, expect

from cloud.auth.roles import Role
from cloud.duty import log as duty_log
from cloud.duty import shifts
from cloud.service import CloudService
from sitewatch.siteconfig import Site
from tests import test_console_browser
from tests.brokers import AmqttThread, MosquittoBroker
from tests.browser import assert_kept_through_refresh, open_on_test_clock, sign_in
from tests.conftest import cloud_settings
from tests.test_duty import raise_fault
from tests.users import OPERATOR as ADMIN_TOKEN
from tests.users import seed as seed_users

OPERATOR = "王芳"  # the admin the pages log in as (tests/browser.py sign_in)
OUTGOING = ["陈刚", "孙丽"]
INCOMING = ["赵敏", "刘洋"]
# The console tests' Chromium and page (which fails a test on any script error): shared, not copied.
browser = test_console_browser.browser
page = test_console_browser.page


@dataclass
class Duty:
    cloud: CloudService
    site: Site
    api: httpx.AsyncClient
    outgoing: shifts.ShiftInstance  # the shift before the scheduled one, still on post
    incoming: shifts.ShiftInstance

    @property
    def url(self) -> str:
        return f"{self.cloud.url}/duty"

    def local(self, at: str) -> str:
        """A stored time as the page shows it: the control room's `YYYY-MM-DD HH:MM`."""
        moment = datetime.fromisoformat(at).astimezone(ZoneInfo(self.site.timezone))
        return moment.strftime("%Y-%m-%d %H:%M")


@pytest.fixture
async def duty(
    broker: MosquittoBroker | AmqttThread, example_site: Site, tmp_path: Path, db_url: str
) -> AsyncIterator[Duty]:
    """A cloud watching the example site, whose previous shift wrote in the log and has not
    handed over: it is still on duty (接班人员未上岗，不准下岗)."""
    cloud = CloudService(cloud_settings(broker, tmp_path, db_url), {example_site.id: example_site})
    now = datetime.now(UTC)
    incoming = shifts.scheduled(example_site, now)
    assert incoming is not None, "the example site's shifts cover the whole day"
    outgoing = shifts.previous(example_site, incoming)
    with cloud.sessions() as session:
        duty_log.write_entry(
            session,
            example_site,
            kind="other",
            text="接班，设备正常 took over, all normal",
            author=OUTGOING[0],
            now=outgoing.start + timedelta(minutes=5),
        )
        session.commit()
    async with asyncio.TaskGroup() as group:
        task = group.create_task(cloud.run())
        await cloud.started()
        seed_users(cloud.sessions)
        async with httpx.AsyncClient(base_url=cloud.url, timeout=5, headers=ADMIN_TOKEN) as api:
            yield Duty(cloud, example_site, api, outgoing, incoming)
        task.cancel()


async def test_an_entry_is_logged_the_handover_signed_accepted_and_printed(
    duty: Duty, page: Page
) -> None:
    await sign_in(page, duty.url)
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#on-duty")).to_contain_text(duty.outgoing.name)
    await expect(page.locator("#scheduled")).to_contain_text(duty.incoming.name)
    banner = page.locator("#handover-banner")
    await expect(banner).to_contain_text(
        f"{duty.outgoing.name} {duty.outgoing.day} remains on duty until {duty.incoming.name}"
    )

    # An operator logs a phone call: it joins the log of the shift on duty.
    await page.locator("#entry-kind").select_option("phone_call")
    await page.locator("#entry-text").fill("物业来电 10:05 3号楼电梯困人")
    await page.locator("#entry-submit").click()
    call = page.locator('#log tbody tr[data-kind="phone_call"]', has_text="3号楼电梯困人")
    await expect(call).to_have_count(1)
    await expect(call.locator("td.author")).to_have_text(OPERATOR)
    call_id = await call.get_attribute("data-entry-id")

    # Never edited: the only action on an entry is a correction, a new entry naming it.
    await expect(
        page.get_by_role("button", name=re.compile("编辑|修改|删除|edit|delete", re.I))
    ).to_have_count(0)
    await expect(page.locator("#log tbody tr").first.locator("button")).to_have_count(1)
    await call.locator("button.correct").click()
    await expect(page.locator("#entry-corrects")).to_contain_text(f"更正 corrects #{call_id}")
    await page.locator("#entry-text").fill("更正：来电时间 10:50 3号楼电梯困人已解除")
    await page.locator("#entry-submit").click()
    fix = page.locator('#log tbody tr[data-kind="phone_call"]', has_text="已解除")
    await expect(fix.locator(".corrects")).to_have_text(f"更正 corrects #{call_id}")
    fix_id = await fix.get_attribute("data-entry-id")
    await expect(call.locator(".corrected-by")).to_have_text(f"已更正 corrected by #{fix_id}")

    # The outgoing staff sign; they remain on duty, and the page says so.
    await expect(page.locator("#handover")).to_have_attribute("data-state", "draft")
    await expect(page.locator('#draft [data-section="log"]')).to_contain_text("已解除")
    await page.locator("#sign-notes").fill("2号消防泵待修 fire pump 2 awaits repair")
    await page.locator("#sign-names").fill(", ".join(OUTGOING))
    await page.locator("#sign-submit").click()
    await expect(page.locator("#handover")).to_have_attribute("data-state", "signed")
    await expect(banner).to_have_attribute("data-signed", "true")
    await expect(banner).to_contain_text(
        f"{duty.outgoing.name} {duty.outgoing.day} remains on duty"
    )
    await expect(page.locator("#signed-by")).to_contain_text(OUTGOING[1])

    # One incoming name is refused with the server's words; two accept with a remark.
    await page.locator("#accept-names").fill(INCOMING[0])
    await page.locator("#accept-submit").click()
    await expect(page.locator("#accept-error")).to_contain_text("at least 2 incoming staff")
    await page.locator("#accept-names").fill("，".join(INCOMING))
    await page.locator("#accept-remarks").fill("2号泵待修，已知悉 noted")
    await page.locator("#accept-with-remarks").click()
    await expect(page.locator("#handover-sealed")).to_be_visible()
    await expect(banner).to_be_hidden()
    await expect(page.locator("#on-duty")).to_contain_text(duty.incoming.name)

    # The printable record of what was sealed.
    (handover,) = (await duty.api.get("/api/duty/handovers")).json()
    record = (await duty.api.get(f"/api/duty/handovers/{handover['id']}")).json()
    await page.locator("#record-link").click()
    await expect(page).to_have_url(f"{duty.cloud.url}/duty/handovers/{handover['id']}")
    await expect(page.locator("#record-title")).to_contain_text(duty.site.name)
    meta = page.locator("#record-meta")
    await expect(meta.locator('[data-field="outgoing"]')).to_contain_text(
        f"{duty.outgoing.name} {duty.outgoing.day}"
    )
    await expect(meta.locator('[data-field="incoming"]')).to_contain_text(duty.incoming.name)
    for side, names in (("outgoing", OUTGOING), ("incoming", INCOMING)):
        rows = page.locator(f'#record-signatures tr[data-side="{side}"]')
        await expect(rows.locator("td.name")).to_have_text(names)
        await expect(rows.locator("td.at")).to_have_text(
            [duty.local(s["at"]) for s in record[side]]
        )
    log = page.locator('#record-draft [data-section="log"]')
    await expect(log).to_contain_text("3号楼电梯困人已解除")
    await expect(log).to_contain_text(f"更正 corrects #{call_id}")
    await expect(page.locator("#record-notes")).to_have_text(
        "2号消防泵待修 fire pump 2 awaits repair"
    )
    await expect(page.locator("#record-remarks")).to_have_text("2号泵待修，已知悉 noted")
    seal = page.locator("#record-seal")
    await expect(seal).to_have_attribute("data-sealed", "true")
    await expect(seal).to_contain_text("Sealed, never changes")
    await expect(seal.locator('[data-field="seq"]')).to_have_text(str(record["seal"]["seq"]))
    await expect(seal.locator('[data-field="hash"]')).to_have_text(record["seal"]["hash"])
    for section in ("alarms_raised", "alarms_open", "out_of_service", "patrol", "gates"):
        await expect(
            page.locator(f'#record-draft section[data-section="{section}"]')
        ).to_be_visible()

    # On paper: no header, no button, the record and its seal.
    await page.emulate_media(media="print")
    await expect(page.locator("#print")).to_be_hidden()
    await expect(page.locator(".topbar")).to_be_hidden()
    await expect(seal).to_be_visible()


async def test_a_handled_fault_lacking_an_entry_is_highlighted_and_logged(
    duty: Duty, page: Page
) -> None:
    fault = raise_fault(duty.cloud.sessions, duty.site, datetime.now(UTC))
    acked = await duty.api.post(f"/api/alarms/{fault}/acknowledge", json={})
    assert acked.status_code == 200, acked.text

    await sign_in(page, duty.url)
    prompt = page.locator(f'#prompts tbody tr[data-alarm-id="{fault}"]')
    await expect(prompt).to_have_class("handled-unlogged")
    await expect(prompt.locator("td.handled")).to_have_text(
        "已处理，缺记录 Handled, still lacking an entry"
    )
    # Logging it: the form opens as an alarm handled, with that alarm; cause and handling wanted.
    await prompt.locator("button.log-alarm").click()
    await expect(page.locator("#entry-kind")).to_have_value("alarm_handled")
    await expect(page.locator("#entry-alarm")).to_have_value(str(fault))
    await page.locator("#entry-location").fill("B2 消防泵房 pump room")
    await page.locator("#entry-cause").fill("1号消防泵控制柜跳闸 controller tripped")
    await page.locator("#entry-handling").fill("现场复位，通知维保 reset, maintenance called")
    await page.locator("#entry-submit").click()
    logged = page.locator('#log tbody tr[data-kind="alarm_handled"]')
    await expect(logged).to_contain_text("现场复位，通知维保")
    await expect(logged).to_contain_text(f"#{fault}")
    await expect(prompt).to_have_count(0)


async def test_an_operator_edits_a_roster_and_the_page_shows_the_names(
    duty: Duty, page: Page
) -> None:
    # The shift on duty left with one person: the status's violation shows beside the editor.
    thin = await duty.api.put(
        f"/api/duty/roster/{duty.outgoing.shift}/{duty.outgoing.day}", json={"staff": ["陈刚"]}
    )
    assert thin.status_code == 200, thin.text
    await sign_in(page, duty.url, Role.OPERATOR)
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#roster-violations")).to_contain_text(
        f"{duty.outgoing.name} {duty.outgoing.day} has 1 on duty"
    )

    # The scheduled shift is today's (the example site's shifts end by midnight): two new names.
    row = page.locator(
        f'#roster-table tr[data-shift="{duty.incoming.shift}"][data-day="{duty.incoming.day}"]'
    )
    await row.locator("input").fill("周杰, 吴昊")
    await row.get_by_role("button", name="保存 Save").click()
    await expect(page.locator(".toast.ok")).to_contain_text("Roster saved")
    await expect(row.locator(".staff-now")).to_have_text("周杰, 吴昊")
    await expect(row).to_have_attribute("data-thin", "false")
    await expect(page.locator("#scheduled .staff")).to_have_text("人员 Staff: 周杰, 吴昊")

    # One name only: the row is flagged, as GB 25201 wants at least 2.
    await row.locator("input").fill("周杰")
    await row.get_by_role("button", name="保存 Save").click()
    await expect(row.locator(".roster-flag")).to_contain_text("Fewer than 2")
    await expect(row.locator(".staff-now")).to_have_text("周杰")


async def test_a_refresh_that_changes_nothing_leaves_the_links_in_place(
    duty: Duty, page: Page
) -> None:
    """The page refreshes every 15 s and on every alarm change. Rebuilding a link or a button
    between the press and the release of a click loses the click, and rebuilding the alarm
    select closes it under the user, so a refresh that brings nothing new must leave the
    elements as they are."""
    fault = raise_fault(duty.cloud.sessions, duty.site, datetime.now(UTC))
    await open_on_test_clock(page, duty.url)
    prompt = f'#prompts tbody tr[data-alarm-id="{fault}"]'
    # Past the refresh interval: the log and the prompts are fetched again, nothing changed.
    await assert_kept_through_refresh(
        page,
        [
            f"{prompt} a",
            f"{prompt} button.log-alarm",
            f'#entry-alarm option[value="{fault}"]',
            "#log tbody tr[data-entry-id] button.correct",
        ],
        "00:20",
    )
