"""What every `sitewatch` command shares: consoles, logging, loading a site, running until stopped."""

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

from sitewatch.broker import BrokerAddress
from sitewatch.configload import ConfigError, load_site
from sitewatch.siteconfig import Site

if TYPE_CHECKING:
    from simulators.scenario import Scenario

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
