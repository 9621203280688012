"""Test databases: a fresh SQLite file or a fresh PostgreSQL database per test, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

BACKENDS = ("sqlite", "postgresql")
# A server the tests may create and drop databases on; 5432 is only the CI machine's default.
POSTGRES_URL = os.environ.get(
    "SITEWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HOW_TO_START = (
    "start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`; "
    "`.ci/run` installs and starts it) or point SITEWATCH_TEST_POSTGRES_URL at a server where "
    "this role may CREATE DATABASE, e.g. postgresql+psycopg://postgres@127.0.0.1:5433/postgres"
)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'cloud.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server; dropped (connections and all) after."""
    admin = create_engine(
        POSTGRES_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    name = f"sw_t_{uuid.uuid4().hex[:12]}"
    unreachable = None
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except OperationalError as exc:
        unreachable = str(exc.orig).replace("\n", " ")
    if unreachable is not None:  # outside the except: one clear line, not a chained traceback
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({unreachable}): {HOW_TO_START}",
            pytrace=False,
        )
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_url(directory)
    else:
        with postgres_database() as url:
            yield url
