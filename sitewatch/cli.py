"""The `sitewatch` command: check a site file, run the edge, the cloud, the simulators or the demo."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from sitewatch.broker import BrokerAddress
from sitewatch.configload import ConfigError, load_site
from sitewatch.siteconfig import Site

if TYPE_CHECKING:
    from cloud.settings import CloudSettings
    from simulators.scenario import Scenario

app = typer.Typer(help="Sitewatch: safety monitoring for property sites.", no_args_is_help=True)
cloud_app = typer.Typer(help="The cloud service.", no_args_is_help=True)
edge_app = typer.Typer(help="The edge agent.", no_args_is_help=True)
sim_app = typer.Typer(help="Device simulators.", no_args_is_help=True)
app.add_typer(cloud_app, name="cloud")
app.add_typer(edge_app, name="edge")
app.add_typer(sim_app, name="sim")

console = Console()
err = Console(stderr=True, soft_wrap=True)

SiteOption = Annotated[Path, typer.Option("--site", help="site file", exists=False, dir_okay=False)]
DEFAULT_SITE = Path("config/site.example.yaml")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def _load(path: Path):
    try:
        return load_site(path)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False)
        raise typer.Exit(code=2) from None


def _load_scenario(path: Path, site: Site) -> Scenario:
    from pydantic import ValidationError

    from simulators.scenario import load_scenario, scenario_problems
    from sitewatch.wire import describe_validation_error

    try:
        scenario = load_scenario(path)
    except (OSError, yaml.YAMLError) as exc:
        err.print(f"[red]error[/red] {path}: {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    except ValidationError as exc:
        err.print(f"[red]error[/red] {path}: {describe_validation_error(exc)}", highlight=False)
        raise typer.Exit(code=2) from None
    problems = scenario_problems(scenario, site)
    for problem in problems:
        err.print(f"[red]error[/red] {path}: {problem}", highlight=False)
    if problems:
        raise typer.Exit(code=2)
    return scenario


def _broker(url: str) -> BrokerAddress:
    try:
        return BrokerAddress.parse(url)
    except ValueError as exc:
        err.print(f"[red]error[/red] --mqtt: {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run until done, Ctrl-C or SIGTERM; either signal stops everything cleanly."""

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await coro

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped.")


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="site file to validate")]) -> None:
    """Validate a site file and its device profiles; print every problem, or a summary."""
    site = _load(file)
    console.print(f"[bold]{site.name}[/bold] ({site.id}), config {site.config_hash}")
    for node in site.nodes.values():
        table = Table(title=f"node {node.id}: {node.name}", title_justify="left")
        for column in ("device", "profile", "bus:unit", "points (alarms)"):
            table.add_column(column, no_wrap=True)
        for device in node.devices.values():
            alarms = sum(1 for p in device.points.values() if p.alarm)
            table.add_row(
                device.id,
                device.profile,
                f"{device.bus}:{device.unit}",
                f"{len(device.points)} ({alarms})",
            )
        if node.devices:
            console.print(table)
        if node.readers:
            readers = Table(title=f"node {node.id}: card readers", title_justify="left")
            for column in ("reader", "family", "role", "where"):
                readers.add_column(column, no_wrap=column != "where")
            for reader_id, reader in node.readers.items():
                where = reader.location or ""
                if reader.role == "gate":
                    where = f"{reader.lane} ({reader.direction}) {where}".strip()
                readers.add_row(reader_id, reader.family, reader.role, where)
            console.print(readers)
    console.print(f"[green]OK[/green]: {file} is valid.")


@edge_app.command("run")
def edge_run(
    node: Annotated[str, typer.Option(help="node id in the site file")],
    site: SiteOption = DEFAULT_SITE,
    mqtt: Annotated[str, typer.Option(help="broker URL")] = "mqtt://127.0.0.1:1883",
    state_dir: Annotated[Path, typer.Option(help="where the outbox lives")] = Path("var/edge"),
    confirm_timeout: Annotated[
        float,
        typer.Option(
            min=1, help="seconds to wait for the cloud's confirmation before publishing again"
        ),
    ] = 30.0,
    outbox_budget_mb: Annotated[
        float | None,
        typer.Option(
            min=1, help="disk budget of the outbox; past it the oldest telemetry goes first"
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve Prometheus /metrics on this port (0: any free port)"),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="address for /metrics")] = "127.0.0.1",
    max_rate: Annotated[
        float,
        typer.Option(
            min=1, help="messages per second at most, fire alarms excepted (bounds replay)"
        ),
    ] = 5000.0,
    verbose: bool = False,
) -> None:
    """Run the edge agent of one node."""
    from edge.agent import EdgeAgent

    _logging(verbose)
    loaded = _load(site)
    if node not in loaded.nodes:
        err.print(
            f"[red]error[/red] node '{node}' is not in {site} (nodes: {', '.join(loaded.nodes)})"
        )
        raise typer.Exit(code=2)
    broker = _broker(mqtt)

    async def run_edge() -> None:
        # Built inside the loop: the Modbus clients bind to the running event loop.
        budget = int(outbox_budget_mb * 1024 * 1024) if outbox_budget_mb else None
        agent = EdgeAgent(
            loaded,
            node,
            broker,
            state_dir,
            confirm_timeout_s=confirm_timeout,
            outbox_budget_bytes=budget,
            metrics=(metrics_host, metrics_port) if metrics_port is not None else None,
            max_rate=max_rate,
        )
        await agent.run()

    console.print(f"edge {loaded.id}/{node}: broker {broker}, outbox in {state_dir}")
    _run(run_edge())


@cloud_app.command("run")
def cloud_run(
    site: Annotated[
        list[Path] | None,
        typer.Option("--site", help="site file, repeatable \\[env SITEWATCH_SITE_FILES]"),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy database URL \\[env SITEWATCH_DB_URL]")
    ] = None,
    mqtt: Annotated[str | None, typer.Option(help="broker URL \\[env SITEWATCH_MQTT_URL]")] = None,
    host: Annotated[
        str | None, typer.Option(help="HTTP address \\[env SITEWATCH_HTTP_HOST]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port \\[env SITEWATCH_HTTP_PORT]")] = None,
    verbose: bool = False,
) -> None:
    """Run the cloud service: ingest, alarms, API and console.

    Options override the SITEWATCH_* environment variables, which override the defaults.
    """
    from cloud.service import CloudService

    _logging(verbose)
    settings = _cloud_settings(
        site_files=site, db_url=db, mqtt_url=mqtt, http_host=host, http_port=port
    )
    _broker(settings.mqtt_url)
    sites = {s.id: s for s in (_load(p) for p in settings.site_files)}

    async def run_cloud() -> None:
        await CloudService(settings, sites).run()

    console.print(
        f"cloud: API and console on http://{settings.http_host}:{settings.http_port}, "
        f"broker {settings.mqtt_url}, db {settings.db_url}"
    )
    _run(run_cloud())


def _cloud_settings(**given: object) -> CloudSettings:
    """Settings from the options given, then SITEWATCH_* variables; exit 2 naming a bad one."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from cloud.settings import CloudSettings
    from sitewatch.wire import describe_validation_error

    try:
        return CloudSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err.print(f"[red]error[/red] settings: {describe_validation_error(exc)}", highlight=False)
        raise typer.Exit(code=2) from None
    except SettingsError as exc:
        err.print(f"[red]error[/red] settings: {exc}", highlight=False)
        raise typer.Exit(code=2) from None


@cloud_app.command("ingest")
def cloud_ingest(
    site: Annotated[
        list[Path] | None,
        typer.Option("--site", help="site file, repeatable \\[env SITEWATCH_SITE_FILES]"),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy database URL \\[env SITEWATCH_DB_URL]")
    ] = None,
    mqtt: Annotated[str | None, typer.Option(help="broker URL \\[env SITEWATCH_MQTT_URL]")] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="shared-subscription group \\[env SITEWATCH_SHARE_GROUP; default sitewatch]"
        ),
    ] = None,
    verbose: bool = False,
) -> None:
    """Run one ingest worker, without the web server; start several to share the load.

    They split the messages (MQTT 5 shared subscription) and share one PostgreSQL database.
    """
    from cloud.worker import DEFAULT_GROUP, IngestWorker, worker_client_id

    _logging(verbose)
    settings = _cloud_settings(site_files=site, db_url=db, mqtt_url=mqtt, share_group=group)
    if "client_id" not in settings.model_fields_set:
        settings = settings.model_copy(update={"client_id": worker_client_id()})
    if settings.share_group is None:
        settings = settings.model_copy(update={"share_group": DEFAULT_GROUP})
    _broker(settings.mqtt_url)
    sites = {s.id: s for s in (_load(p) for p in settings.site_files)}

    async def run_worker() -> None:
        await IngestWorker(settings, sites).run()

    console.print(
        f"ingest worker {settings.client_id}: group {settings.share_group}, "
        f"broker {settings.mqtt_url}, db {settings.db_url}"
    )
    _run(run_worker())


@cloud_app.command("migrate")
def cloud_migrate(
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy database URL \\[env SITEWATCH_DB_URL]")
    ] = None,
) -> None:
    """Upgrade the database schema in place to this version's (`cloud run` also does it at start).

    Safe to run while other workers start: on PostgreSQL one migrates, the others wait.
    """
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from cloud.db import make_engine, migrate
    from cloud.settings import CloudSettings

    url = db if db is not None else CloudSettings().db_url
    try:
        engine = make_engine(url)
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ImportError) as exc:
        err.print(f"[red]error[/red] database URL {url!r}: {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    try:
        done = migrate(engine)
    except SQLAlchemyError as exc:
        err.print(f"[red]error[/red] {shown}: {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    before = done.before or "none (empty database)"
    if done.detected:
        before += " (detected: made before migrations, now recorded)"
    console.print(f"database {shown}", highlight=False)
    console.print(f"  schema before: [bold]{before}[/bold]", highlight=False)
    if done.before == done.after:
        console.print(f"  schema after:  [bold]{done.after}[/bold] (newest; nothing to do)")
    else:
        console.print(f"  schema after:  [bold green]{done.after}[/bold green] (newest)")


EdgeSiteOption = Annotated[
    Path | None,
    typer.Option(
        "--edge-site",
        help="write a site file whose buses and reader ports point at the simulators, for "
        "`sitewatch edge run --site`",
    ),
]


@sim_app.command("serve")
def sim_serve(
    site: SiteOption = DEFAULT_SITE,
    edge_site: EdgeSiteOption = None,
    verbose: bool = False,
) -> None:
    """Simulate every device and reader of a site, healthy, until Ctrl-C.

    Modbus TCP buses listen on the site file's ports where free; RTU buses and card readers get
    pseudo-terminals, listed on start.
    """
    from sitewatch.demo import serve_site

    _logging(verbose)
    _run(serve_site(_load(site), None, edge_site, console))


@sim_app.command("run")
def sim_run(
    scenario: Annotated[Path, typer.Argument(help="scenario file")],
    site: SiteOption = DEFAULT_SITE,
    edge_site: EdgeSiteOption = None,
    verbose: bool = False,
) -> None:
    """Simulate the site (as `sim serve`) and play the scenario's steps."""
    from sitewatch.demo import serve_site

    _logging(verbose)
    loaded = _load(site)
    _run(serve_site(loaded, _load_scenario(scenario, loaded), edge_site, console))


@app.command("demo")
def demo(
    mqtt: Annotated[
        str | None, typer.Option(help="use this broker instead of the embedded one")
    ] = None,
    site: SiteOption = DEFAULT_SITE,
    port: Annotated[int, typer.Option(help="console port (a free one is used if taken)")] = 8000,
    scenario: Annotated[Path, typer.Option(help="scenario the simulators play")] = Path(
        "config/scenarios/pumproom-demo.yaml"
    ),
    verbose: bool = False,
) -> None:
    """Run everything on embedded defaults: broker, cloud, simulators, edge. Ctrl-C stops it."""
    from sitewatch.demo import run_demo

    _logging(verbose)
    if mqtt is not None:
        _broker(mqtt)
    loaded = _load(site)
    _run(run_demo(loaded, mqtt, port, _load_scenario(scenario, loaded), console))


if __name__ == "__main__":
    app()
