"""`sitewatch demo` and `sitewatch sim`: wire simulators, broker, cloud and edges together in one process."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from simulators.scenario import Scenario, play
from simulators.site import SiteSimulator
from sitewatch.broker import BrokerAddress, EmbeddedBroker, free_port, port_is_free
from sitewatch.siteconfig import Site

DEMO_DIR = Path("var/demo")


async def serve_site(
    site: Site, scenario: Scenario | None, edge_site_file: Path | None, console: Console
) -> None:
    """Simulate every device and reader of the site until cancelled, playing `scenario` if given."""
    async with SiteSimulator(site, use_site_ports=True) as sims:
        table = Table(title=f"Simulating {site.name}")
        table.add_column("what")
        table.add_column("where")
        for what, where in sims.describe():
            table.add_row(what, where)
        console.print(table)
        if edge_site_file is not None:
            edge_site_file.write_text(sims.edge_site_yaml(), encoding="utf-8")
            console.print(f"edges reach these simulators with the site file {edge_site_file}")
        if scenario is not None:
            await play(
                scenario,
                sims,
                on_step=lambda s: console.print(
                    f"  t={s.at:>6g} s  {s.action} {s.device or s.reader or ''}", highlight=False
                ),
            )
        await asyncio.Event().wait()


async def run_demo(
    site: Site, mqtt: str | None, http_port: int, scenario: Scenario, console: Console
) -> None:
    """Broker (embedded unless given), cloud, simulators and an edge per node, until Ctrl-C."""
    from cloud.service import CloudService
    from cloud.settings import CloudSettings
    from edge.agent import EdgeAgent

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    port = http_port if http_port and port_is_free("127.0.0.1", http_port) else free_port()
    embedded = EmbeddedBroker() if mqtt is None else None
    broker_address = embedded.address if embedded else BrokerAddress.parse(mqtt or "")

    # The exit stack stops the broker and simulators only after the task group has stopped the
    # edges and the cloud, so nothing talks to a component that is already gone.
    async with contextlib.AsyncExitStack() as stack:
        if embedded is not None:
            await stack.enter_async_context(embedded)
        sims = await stack.enter_async_context(SiteSimulator(site))
        edge_site = sims.site_for_edge()
        async with asyncio.TaskGroup() as group:
            group.create_task(play(scenario, sims))
            settings = CloudSettings(
                db_url=f"sqlite:///{DEMO_DIR / 'cloud.db'}",
                mqtt_url=str(broker_address),
                http_port=port,
                site_files=[],
            )
            cloud = CloudService(settings, {site.id: site})
            group.create_task(cloud.run())
            await cloud.started()
            login = demo_account(cloud.sessions)
            await issue_demo_cards(cloud.url, login.token, console)
            for node_id in site.nodes:
                group.create_task(
                    EdgeAgent(edge_site, node_id, broker_address, DEMO_DIR / "edge").run()
                )
            console.print(
                f"console login: [bold]{login.username}[/bold] / [bold]{login.password}[/bold]"
                f"   API token: {login.token}",
                highlight=False,
            )
            _print_summary(console, site, port, http_port, broker_address, embedded, sims, scenario)
            await asyncio.Event().wait()


# The cards the demo scenario presents at the gate: a resident, and a renovation worker's pass.
DEMO_CARDS = [
    {
        "card": "0A00BC614E",
        "holder": "陈先生 Mr Chen",
        "unit": "3-1502",
        "plates": ["粤B12345"],
        "type": "resident",
    },
    {
        "card": "W26:12:34567",
        "holder": "装修工 李 Li (renovation)",
        "unit": "5-0801",
        "type": "temporary",
        "valid_until": "2099-12-31T23:59:59",
    },
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    token: str


def demo_account(sessions: sessionmaker[Session]) -> DemoLogin:
    """An admin for this demo run, with a fresh password and API token (the database is new)."""
    from cloud.auth.accounts import create_user, mint_token
    from cloud.auth.roles import Role

    password = secrets.token_urlsafe(9)
    with sessions.begin() as session:
        user = create_user(session, "demo", "演示 Demo", Role.ADMIN, password)
        token, _ = mint_token(session, user, "demo", [Role.ADMIN])
    return DemoLogin("demo", password, token)


async def issue_demo_cards(url: str, token: str, console: Console) -> None:
    """Issue the demo's cards through the card API, as parking staff would."""
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=10, headers=auth) as api:
        for card in DEMO_CARDS:
            response = await api.post("/api/cards", json=card)
            if response.status_code not in (201, 409):
                console.print(f"[yellow]demo card {card['card']}: {response.text}[/yellow]")


def _print_summary(
    console: Console,
    site: Site,
    port: int,
    asked_port: int,
    broker: BrokerAddress,
    embedded: EmbeddedBroker | None,
    sims: SiteSimulator,
    scenario: Scenario,
) -> None:
    table = Table(title=f"Sitewatch demo: {site.name}")
    table.add_column("what")
    table.add_column("where")
    table.add_row("console", f"http://127.0.0.1:{port}/")
    table.add_row("API docs", f"http://127.0.0.1:{port}/docs")
    table.add_row("broker", f"{broker} ({'embedded amqtt' if embedded else 'external'})")
    table.add_row("database", str(DEMO_DIR / "cloud.db"))
    for what, where in sims.describe():
        table.add_row(f"simulator {what}", where)
    for node_id in site.nodes:
        table.add_row(f"edge {node_id}", f"outbox in {DEMO_DIR / 'edge'}")
    table.add_row("scenario", f"{scenario.name} (looping)" if scenario.loop else scenario.name)
    console.print(table)
    if asked_port and port != asked_port:
        console.print(f"[yellow]port {asked_port} was taken; the console is on {port}[/yellow]")
    console.print("Press Ctrl-C to stop.")
