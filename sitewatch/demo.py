"""`sitewatch demo` and `sitewatch sim`: wire simulators, broker, cloud and edges together in one process."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulators.modbus_server import ModbusSimulator
from simulators.pumproom import PumpRoom
from simulators.scenario import Scenario, play
from simulators.site import SiteSimulator
from sitewatch.broker import BrokerAddress, EmbeddedBroker, free_port, port_is_free
from sitewatch.siteconfig import Site, TcpBus

DEMO_DIR = Path("var/demo")


def _simulated_port(site: Site, node: str) -> int:
    """Serve on the site file's port when one bus is configured and that port is free."""
    ports = {b.port for b in site.nodes[node].buses.values() if isinstance(b, TcpBus)}
    if len(ports) == 1 and port_is_free("127.0.0.1", next(iter(ports))):
        return next(iter(ports))
    return 0


async def serve_node(site: Site, node: str | None, scenario: Scenario | None) -> None:
    """Simulate one node's devices until cancelled, playing `scenario` if given."""
    node_id = scenario.node if scenario else node
    assert node_id is not None
    if node_id not in site.nodes:
        raise SystemExit(
            f"node '{node_id}' is not in the site file (nodes: {', '.join(site.nodes)})"
        )
    async with ModbusSimulator(site, node_id, port=_simulated_port(site, node_id)) as sim:
        for bus, port in sim.ports.items():
            print(f"simulating {node_id} bus {bus} on modbus+tcp://127.0.0.1:{port}")
        room = PumpRoom(sim)
        await room.normal()
        if scenario is not None:
            await play(
                scenario,
                room,
                on_step=lambda s: print(f"  t={s.at:>5}s {s.action} {s.device or ''}"),
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
            group.create_task(play(scenario, sims.room(scenario.node)))
            settings = CloudSettings(
                db_url=f"sqlite:///{DEMO_DIR / 'cloud.db'}",
                mqtt_url=str(broker_address),
                http_port=port,
                site_files=[],
            )
            cloud = CloudService(settings, {site.id: site})
            group.create_task(cloud.run())
            await cloud.started()
            for node_id in site.nodes:
                group.create_task(
                    EdgeAgent(edge_site, node_id, broker_address, DEMO_DIR / "edge").run()
                )
            _print_summary(console, site, port, http_port, broker_address, embedded, sims, scenario)
            await asyncio.Event().wait()


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
