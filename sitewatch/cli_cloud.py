"""`sitewatch cloud …`: the cloud service, its ingest workers and its schema migration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sitewatch.cli_common import _broker, _load, _logging, _run, console, err

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cloud.settings import CloudSettings

cloud_app = typer.Typer(help="The cloud service.", no_args_is_help=True)

# Options every cloud command reads the same way: given, else the SITEWATCH_* variable.
SitesOption = Annotated[
    list[Path] | None,
    typer.Option("--site", help="site file, repeatable \\[env SITEWATCH_SITE_FILES]"),
]
DbOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy database URL \\[env SITEWATCH_DB_URL]")
]
MqttOption = Annotated[str | None, typer.Option(help="broker URL \\[env SITEWATCH_MQTT_URL]")]


@cloud_app.command("run")
def cloud_run(
    site: SitesOption = None,
    db: DbOption = None,
    mqtt: MqttOption = None,
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
        f"broker {_broker(settings.mqtt_url)}, db {_shown(settings.db_url)}"
    )
    _run(run_cloud())


def _shown(db_url: str) -> str:
    """The database URL without its password: what is printed ends up in the journal."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


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
    site: SitesOption = None,
    db: DbOption = None,
    mqtt: MqttOption = None,
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
        f"broker {_broker(settings.mqtt_url)}, db {_shown(settings.db_url)}"
    )
    _run(run_worker())


def _engine(db: str | None) -> tuple[Engine, str]:
    """An engine on the given (or configured) database, and its URL without the password."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    from cloud.db import make_engine
    from cloud.settings import CloudSettings

    url = db if db is not None else CloudSettings().db_url
    try:
        return make_engine(url), make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ImportError) as exc:
        err.print(f"[red]error[/red] database URL {url!r}: {exc}", highlight=False)
        raise typer.Exit(code=2) from None


@cloud_app.command("migrate")
def cloud_migrate(
    db: DbOption = None,
) -> None:
    """Upgrade the database schema in place to this version's (`cloud run` also does it at start).

    Safe to run while other workers start: on PostgreSQL one migrates, the others wait.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.db import migrate

    engine, shown = _engine(db)
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


@cloud_app.command("verify-records")
def cloud_verify_records(
    db: DbOption = None,
) -> None:
    """Check the hash chain of sealed records (handovers, inspections): any later change to a
    stored record, or a record removed or inserted, is named. Exit code 1 if the chain is broken."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from cloud.records.seal import verify

    engine, shown = _engine(db)
    try:
        with Session(engine) as session:
            count, problems = verify(session)
    except SQLAlchemyError as exc:
        err.print(f"[red]error[/red] {shown}: {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    console.print(f"database {shown}: {count} sealed records checked", highlight=False)
    if not problems:
        console.print("[green]the chain is intact[/green]: no record changed since it was sealed")
        return
    for problem in problems:
        err.print(f"[red]broken[/red] {problem}", highlight=False)
    err.print(f"[red]{len(problems)} problem(s)[/red]: the stored history was changed")
    raise typer.Exit(code=1)


@cloud_app.command("create-admin")
def cloud_create_admin(
    username: Annotated[str, typer.Option(help="login name")] = "admin",
    name: Annotated[
        str, typer.Option(help="the name records show for this person")
    ] = "管理员 Admin",
    db: DbOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Make an admin account (the first one, or another), after migrating the schema if needed.

    The password is asked for twice on the terminal, or read from standard input.
    """
    import sys

    from sqlalchemy.orm import Session

    from cloud.auth.accounts import AuthError, create_user
    from cloud.auth.roles import Role
    from cloud.db import migrate

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine, shown = _engine(db)
    try:
        migrate(engine)
        with Session(engine) as session:
            create_user(session, username, name, Role.ADMIN, password)
            session.commit()
    except AuthError as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    console.print(
        f"admin [bold]{username}[/bold] created in {shown}; log in at the console", highlight=False
    )
