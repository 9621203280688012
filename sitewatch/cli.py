"""The `sitewatch` command: check a site file, run the edge, the cloud, the simulators or the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sitewatch.broker import BrokerAddress, tls_context
from sitewatch.cli_cloud import cloud_app
from sitewatch.cli_common import (
    DEFAULT_SITE,
    SiteOption,
    _broker,
    _load,
    _load_scenario,
    _logging,
    _run,
    console,
    err,
)

app = typer.Typer(help="Sitewatch: safety monitoring for property sites.", no_args_is_help=True)
edge_app = typer.Typer(help="The edge agent.", no_args_is_help=True)
sim_app = typer.Typer(help="Device simulators.", no_args_is_help=True)
app.add_typer(cloud_app, name="cloud")
app.add_typer(edge_app, name="edge")
app.add_typer(sim_app, name="sim")


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
    mqtt: Annotated[
        str, typer.Option(help="broker URL: mqtt://user:password@host:port, or mqtts:// for TLS")
    ] = "mqtt://127.0.0.1:1883",
    mqtt_ca_file: Annotated[
        Path | None,
        typer.Option(help="mqtts://: the CA the broker's certificate must chain to"),
    ] = None,
    mqtt_cert_file: Annotated[
        Path | None,
        typer.Option(help="mqtts://: this node's client certificate, if the broker wants one"),
    ] = None,
    mqtt_key_file: Annotated[
        Path | None,
        typer.Option(help="mqtts://: the client certificate's key, unless in the same file"),
    ] = None,
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
    broker = _tls_broker(_broker(mqtt), mqtt_ca_file, mqtt_cert_file, mqtt_key_file)

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


def _tls_broker(
    broker: BrokerAddress, ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> BrokerAddress:
    """The broker with the TLS files given; exit 2 naming a file that is missing, or TLS files
    given for a plain mqtt:// broker."""
    for option, path in (("ca", ca_file), ("cert", cert_file), ("key", key_file)):
        if path is not None and not path.is_file():
            err.print(f"[red]error[/red] --mqtt-{option}-file: {path} is not a file")
            raise typer.Exit(code=2)
    try:
        address = broker.with_tls_files(ca_file, cert_file, key_file)
        tls_context(address)  # an unreadable certificate or key stops us here, not in paho
    except (ValueError, OSError) as exc:
        err.print(f"[red]error[/red] --mqtt: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    return address


@app.command("mqtt-acl")
def mqtt_acl(
    site_files: Annotated[list[Path], typer.Argument(help="site files whose nodes get logins")],
    out: Annotated[
        Path, typer.Option(help="folder for passwd and acl (kept passwords are read here)")
    ],
    rotate: Annotated[
        list[str] | None,
        typer.Option(
            help="give this account a new password: SITE/NODE, NODE, or cloud; repeatable"
        ),
    ] = None,
    broker: Annotated[
        str, typer.Option(help="the broker URL written into the credential files")
    ] = "mqtt://192.0.2.10:1883",
    credentials: Annotated[
        Path | None,
        typer.Option(
            help="folder for the new passwords' credential files [default: OUT/credentials]"
        ),
    ] = None,
) -> None:
    """Write a Mosquitto password file and ACL: one login per edge node, fenced to its own topics.

    Existing passwords are kept (their hashes are read from OUT/passwd); new accounts and those
    named by --rotate get a random password, written once to a credential file (0600) for the
    node. Reload the broker afterwards. The rules: docs/security.md.
    """
    from sitewatch.mqttacl import AclError, generate

    sites = [_load(path) for path in site_files]
    address = _broker(broker)
    try:
        done = generate(sites, out, address, rotate or (), credentials)
    except AclError as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    console.print(
        f"wrote {done.passwd} and {done.acl} (hashes by {done.hasher})",
        highlight=False,
        soft_wrap=True,
    )
    for what, users in (
        ("new", done.created),
        ("rotated", done.rotated),
        ("kept", done.kept),
        ("removed", done.removed),
    ):
        if users:
            console.print(f"  {what}: {', '.join(users)}", highlight=False, soft_wrap=True)
    for user, path in done.credentials.items():
        console.print(f"  password of {user}: {path}", highlight=False, soft_wrap=True)
    if done.credentials:
        console.print("Install each credential file on its machine, then delete it here.")
    console.print("Then reload the broker: systemctl reload mosquitto (SIGHUP).")


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
