"""Database engine and sessions: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import Base


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


# The alarm history is the operators' audit trail: the database itself refuses to change it.
_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS alarm_events_no_update BEFORE UPDATE ON alarm_events "
        "BEGIN SELECT RAISE(ABORT, 'alarm history is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS alarm_events_no_delete BEFORE DELETE ON alarm_events "
        "BEGIN SELECT RAISE(ABORT, 'alarm history is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION sitewatch_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'alarm history is append-only'; END $$",
        "CREATE OR REPLACE TRIGGER alarm_events_append_only BEFORE UPDATE OR DELETE "
        "ON alarm_events FOR EACH ROW EXECUTE FUNCTION sitewatch_append_only()",
    ],
}


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for statement in _APPEND_ONLY.get(engine.dialect.name, []):
            connection.exec_driver_sql(statement)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
