"""Real-browser helpers: Debian's Chromium driven by Playwright, and a TCP gate that drops connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Playwright, expect

from cloud.auth.roles import Role
from tests.users import PASSWORD, USERS

# The system's Chromium (apt-get install chromium): Playwright's own browser downloads are never used.
CHROMIUM = Path(os.environ.get("SITEWATCH_CHROMIUM", "/usr/bin/chromium"))


async def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Chromium; a missing browser fails the test loudly instead of skipping it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the console's browser tests need it "
            "(`apt-get install chromium`, which .ci/run does; SITEWATCH_CHROMIUM names another)"
        )
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)


async def sign_in(page: Page, url: str, role: Role = Role.ADMIN) -> str:
    """Open `url` and log in through the /login page it sends us to, as the seeded test account
    of `role` (tests/users.py; the admin 王芳 unless told); back on `url`, the header shows who.
    The name is returned: records are signed with it."""
    username, name = USERS[role]
    await page.goto(url)
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.locator("#login-username").fill(username)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-password").press("Enter")
    await expect(page.locator("#user-name")).to_have_text(name)
    await expect(page.locator("#user-role")).to_have_attribute("data-roles", role.value)
    return name


async def open_on_test_clock(page: Page, url: str) -> None:
    """`sign_in` to `url` with the page's clock under the test's control (`page.clock`), and wait
    until the page has loaded: its timers then run only when the test moves the clock on."""
    await page.clock.install()
    await sign_in(page, url)
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")


async def assert_kept_through_refresh(
    page: Page, selectors: list[str], advance: str, counters: tuple[str, ...] = ("refresh",)
) -> None:
    """Move the page's clock on by `advance` ("mm:ss"; the page was opened with
    `open_on_test_clock`), wait until each of the body's data-{counter}-runs
    has gone up (the refreshes ran), and assert that every element of `selectors` is still the
    one that was in the page before: a refresh that rebuilds a link or a button between the
    press and the release of a click loses the click."""
    body = page.locator("body")
    kept = {selector: await page.locator(selector).first.element_handle() for selector in selectors}
    runs = {name: int(await body.get_attribute(f"data-{name}-runs") or 0) for name in counters}
    await page.clock.fast_forward(advance)
    for name, before in runs.items():
        camel = re.sub(r"-(\w)", lambda m: m.group(1).upper(), name)
        await page.wait_for_function(
            f"Number(document.body.dataset.{camel}Runs) > {before}", polling="raf"
        )
    for selector, handle in kept.items():
        assert await handle.evaluate("node => node.isConnected"), f"{selector} was rebuilt"


class TcpGate:
    """A TCP forwarder in front of the cloud's HTTP port. `cut()` drops every open connection and
    refuses new ones, like a network failure between the control room and the cloud;
    `restore()` lets connections through again."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.open = True
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> TcpGate:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        self.open = False
        for transport in list(self._transports):
            transport.abort()  # a reset, not a polite close: the browser sees the line die
        self._transports.clear()

    def restore(self) -> None:
        self.open = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, up_writer.transport}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._transports.discard(sink.transport)
            sink.transport.abort()
