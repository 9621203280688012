"""Database engine, sessions and schema migration: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

# Any fixed number, the same in every worker: one of them migrates, the others wait for it.
_MIGRATE_LOCK = 0x5177_6A7C_0DB0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: once a message is confirmed the edge deletes it, so the commit must survive
            # a power cut.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


class WriterTurns:
    """Writers of several processes take turns on one SQLite file's write lock, in order.

    SQLite's busy handler polls, sleeping up to 100 ms at a time, so a worker that commits and
    begins its next batch at once can keep the lock while another waits for seconds. Two
    flock()s make a turnstile: a writer waits for the lock while holding the gate, so the one that
    just finished queues behind it instead of taking the lock again.
    """

    def __init__(self, database: Path) -> None:
        import fcntl  # POSIX only; see `writer_turns`

        self._flock = fcntl.flock
        self._exclusive, self._unlock = fcntl.LOCK_EX, fcntl.LOCK_UN
        self._gate = open(database.with_name(database.name + "-gate"), "ab")  # noqa: SIM115
        self._lock = open(database.with_name(database.name + "-writer"), "ab")  # noqa: SIM115
        self._threads = threading.Lock()  # flock() does not exclude threads sharing a file

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            self._flock(self._gate, self._exclusive)
            try:
                self._flock(self._lock, self._exclusive)
            finally:
                self._flock(self._gate, self._unlock)
            try:
                yield
            finally:
                self._flock(self._lock, self._unlock)

    def close(self) -> None:
        self._gate.close()
        self._lock.close()


def writer_turns(engine: Engine) -> WriterTurns | None:
    """Turns for the writers of a SQLite file; None where the database queues writers itself
    (PostgreSQL waits on row locks), for an in-memory database, or without flock()."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    try:
        return WriterTurns(Path(database))
    except ImportError:
        return None


def turn(turns: WriterTurns | None) -> AbstractContextManager[None]:
    return turns.turn() if turns is not None else nullcontext()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Migration:
    """What `migrate` did: the revision before (None: an empty database) and after."""

    before: str | None
    after: str
    # True when `before` was inferred from the tables of a database made before Alembic.
    detected: bool = False


def alembic_config() -> Config:
    # The revisions ship inside the package: no alembic.ini, nothing relative to the cwd.
    config = Config()
    config.set_main_option("script_location", "cloud:migrations")
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> Migration:
    """Bring the schema to the newest revision, in one transaction: create it in an empty
    database, upgrade an older one in place. Safe to run from several workers at once."""
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # Copying `alarms` (SQLite cannot ALTER it) drops a table that alarm_events points
            # at; the pragma is ignored inside a transaction, so it goes first.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            # pysqlite would start the transaction only at the first INSERT, leaving the DDL
            # before it outside; IMMEDIATE also makes a second migrator wait.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            # Released at commit; PostgreSQL's DDL is transactional, so waiters see all or nothing.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK})")
        try:
            result = _upgrade(connection)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()  # a no-op after the commit
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    return result


def _upgrade(connection: Connection) -> Migration:
    config = alembic_config()
    config.attributes["connection"] = connection
    before = MigrationContext.configure(connection).get_current_revision()
    detected = None if before is not None else _pre_alembic_revision(connection)
    if detected is not None:
        command.stamp(config, detected)
    command.upgrade(config, "head")
    after = MigrationContext.configure(connection).get_current_revision()
    assert after is not None
    return Migration(before or detected, after, detected is not None)


def _pre_alembic_revision(connection: Connection) -> str | None:
    """The revision a database made by `create_all` (before Alembic) matches; None if empty."""
    inspector = inspect(connection)
    if "alarms" not in inspector.get_table_names():
        return None
    columns = {column["name"] for column in inspector.get_columns("alarms")}
    return "0002" if "raw_active" in columns else "0001"


# The pre-Alembic name, still used by callers (cloud/worker.py): it now migrates.
create_schema = migrate
