"""Schema migrations: the head revision is the models, and older databases upgrade in place."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command, op
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.db import alembic_config, current_revision, head_revision, make_engine, migrate
from cloud.models import AlarmEventRecord, AlarmRecord, Base, PointRecord, StoredMessage
from sitewatch.cli import app

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PUMP_FAIL = ("harbour-view", "pumproom", "fire-pump-1", "run_fail", "active")
PRESSURE_LOW = ("harbour-view", "pumproom", "supply-pt", "pressure", "low")
HEAD = head_revision()
TABLES_0002 = (
    "messages", "nodes", "devices", "points", "alarms", "alarm_events", "equipment_tags",
    "dead_letters", "card_reads",
)  # fmt: skip


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database: each test builds the schema it starts from."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def upgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_head_revision_is_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert current_revision(db_engine) == HEAD


def test_an_empty_database_is_created_and_a_current_one_left_alone(engine: Engine) -> None:
    first = migrate(engine)
    assert (first.before, first.after, first.detected) == (None, HEAD, False)
    again = migrate(engine)
    assert (again.before, again.after, again.detected) == (HEAD, HEAD, False)


def seed_release_0001(engine: Engine) -> None:
    """What the first release left behind: a source that alarmed three times, another once."""
    meta = sa.MetaData()
    meta.reflect(engine)
    alarms, events = meta.tables["alarms"], meta.tables["alarm_events"]
    rows = [
        # id, source, state, active, raised, cleared, closed
        (1, PUMP_FAIL, "normal", False, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)),
        (2, PRESSURE_LOW, "acknowledged", True, T0 + timedelta(minutes=3), None, None),
        (3, PUMP_FAIL, "normal", False, T0 + timedelta(minutes=4), T0 + timedelta(minutes=5),
         T0 + timedelta(minutes=6)),
        (4, PUMP_FAIL, "unacknowledged", True, T0 + timedelta(minutes=7), None, None),
    ]  # fmt: skip
    with engine.begin() as connection:
        for id_, (
            site,
            node,
            device,
            point,
            condition,
        ), state, active, raised, cleared, closed in rows:
            connection.execute(
                alarms.insert().values(
                    id=id_, site=site, node=node, device=device, point=point,
                    condition=condition, category="fire" if device.startswith("fire") else "equipment",
                    priority="critical", text=f"{device} {condition}", location="B2",
                    device_name=device, state=state, active=active, value=True,
                    raised_at=raised, cleared_at=cleared, closed_at=closed,
                )
            )  # fmt: skip
        history = [
            (1, 0, "raised", "unacknowledged", None),
            (1, 1, "cleared", "rtn_unacknowledged", None),
            (1, 2, "acknowledged", "normal", "wang"),
            (2, 3, "raised", "unacknowledged", None),
            (2, 4, "acknowledged", "acknowledged", "li"),
            (3, 4, "raised", "unacknowledged", None),
            (3, 5, "acknowledged", "acknowledged", "zhao"),
            (3, 6, "cleared", "normal", None),
            (4, 7, "raised", "unacknowledged", None),
            (4, 8, "returned", "unacknowledged", None),
        ]
        for alarm_id, minute, what, state, by in history:
            connection.execute(
                events.insert().values(
                    alarm_id=alarm_id, at=T0 + timedelta(minutes=minute, seconds=alarm_id),
                    event=what, state=state, value=None, by=by, note=None,
                )
            )  # fmt: skip
        messages = meta.tables["messages"]
        payload: Any = '{"seq":7,"items":[{"point":"run_fail"}]}'
        if isinstance(messages.c.payload.type, sa.JSON):  # a release before the bulk ingest
            payload = json.loads(payload)
        connection.execute(
            messages.insert().values(
                site="harbour-view", node="pumproom", stream="s1", seq=7, boot=1, kind="event",
                source_ts=1, received_at=T0, payload=payload,
            )
        )  # fmt: skip
        connection.execute(
            meta.tables["points"].insert().values(
                site="harbour-view", node="pumproom", device="supply-pt", point="pressure",
                value=0.42, quality="good", source_ts=1, stream="s1", seq=7, updated_at=T0,
            )
        )  # fmt: skip


def test_a_release_0001_database_upgrades_in_place_with_its_history_merged(
    engine: Engine,
) -> None:
    upgrade_to(engine, "0001")
    seed_release_0001(engine)

    done = migrate(engine)

    assert (done.before, done.after, done.detected) == ("0001", HEAD, False)
    sessions = sessionmaker(engine)
    with sessions() as session:
        alarms = {a.id: a for a in session.scalars(select(AlarmRecord))}
        assert sorted(alarms) == [2, 4], "one row per source and condition: the newest occurrence"
        pump, pressure = alarms[4], alarms[2]
        # Every occurrence's history, in order, now on the one row.
        assert [(e.event, e.by) for e in pump.history] == [
            ("raised", None),
            ("cleared", None),
            ("acknowledged", "wang"),
            ("raised", None),
            ("acknowledged", "zhao"),
            ("cleared", None),
            ("raised", None),
            ("returned", None),
        ]
        assert session.scalar(select(sa.func.count()).select_from(AlarmEventRecord)) == 10
        assert (pump.state, pump.active, pump.raw_active, pump.latched) == (
            "unacknowledged",
            True,
            True,
            True,
        )
        assert pump.raised_at == T0 + timedelta(minutes=7)
        assert pump.changed_at == T0 + timedelta(minutes=8, seconds=4)  # its newest event
        assert (pump.acked_by, pump.acked_at, pump.version) == (None, None, 1)
        assert (pressure.state, pressure.latched, pressure.acked_by) == (
            "acknowledged",
            False,
            "li",
        )
        assert pressure.acked_at == T0 + timedelta(minutes=4, seconds=2)
        message = session.scalars(select(StoredMessage)).one()
        assert message.payload == {"seq": 7, "items": [{"point": "run_fail"}]}
        assert session.scalars(select(PointRecord)).one().value == 0.42

        # The new model works on the old rows: an operator acknowledges the pump alarm.
        pump.state, pump.acked_by, pump.acked_at = "acknowledged", "chen", T0 + timedelta(hours=1)
        pump.history.append(
            AlarmEventRecord(
                event="acknowledged", state="acknowledged", by="chen", at=pump.acked_at
            )
        )
        session.commit()
        assert pump.version == 2
    assert_history_is_append_only(engine)


def assert_history_is_append_only(engine: Engine) -> None:
    with engine.connect() as connection:  # the triggers fire per row: there must be some
        assert connection.scalar(select(sa.func.count()).select_from(AlarmEventRecord))
    for statement in ("UPDATE alarm_events SET note = 'edited'", "DELETE FROM alarm_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    # Only the retention job deletes, holding a permit inside its own transaction.
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO pruning_permit (holder) VALUES ('retention')")
        connection.exec_driver_sql("UPDATE alarm_events SET note = 'edited'")
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO pruning_permit (holder) VALUES ('retention')")
        connection.exec_driver_sql("DELETE FROM alarm_events")
        connection.exec_driver_sql("DELETE FROM pruning_permit")


def test_a_database_made_by_create_all_before_migrations_is_recognised(engine: Engine) -> None:
    # What cloud.db did before Alembic (without the triggers), with the models of that time.
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[name] for name in TABLES_0002])
    with Session(engine) as session:
        alarm = AlarmRecord(
            site="s", node="n", device="d", point="p", condition="c", category="fire",
            priority="critical", text="t", state="unacknowledged", active=True, raised_at=T0,
            changed_at=T0,
        )  # fmt: skip
        alarm.history.append(AlarmEventRecord(event="raised", state="unacknowledged", at=T0))
        session.add(alarm)
        session.add(
            StoredMessage(
                site="s", node="n", stream="x", seq=1, boot=1, kind="event", source_ts=1,
                payload={"a": 1}, received_at=T0,
            )
        )  # fmt: skip
        session.commit()

    done = migrate(engine)

    assert (done.before, done.after, done.detected) == ("0002", HEAD, True)
    assert current_revision(engine) == HEAD
    with engine.connect() as connection:
        assert connection.scalar(select(StoredMessage.payload)) == {"a": 1}
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert_history_is_append_only(engine)


def test_a_release_0001_database_without_alembic_is_detected_and_upgraded(
    engine: Engine,
) -> None:
    # The first release's create_all made exactly the tables of revision 0001, and no record.
    upgrade_to(engine, "0001")
    seed_release_0001(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")

    done = migrate(engine)

    assert (done.before, done.after, done.detected) == ("0001", HEAD, True)
    with engine.connect() as connection:
        assert connection.scalar(select(sa.func.count()).select_from(AlarmRecord)) == 2
        assert connection.scalar(select(sa.func.count()).select_from(AlarmEventRecord)) == 10


def test_workers_starting_together_migrate_once(engine: Engine) -> None:
    results: list[Any] = []

    def start() -> None:
        try:
            results.append(migrate(engine))
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            results.append(exc)

    workers = [threading.Thread(target=start) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted((r.before or "", r.after) for r in results) == [
        ("", HEAD),
        (HEAD, HEAD),
        (HEAD, HEAD),
    ], results


def test_sitewatch_cloud_migrate_upgrades_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = make_engine(url)
    upgrade_to(old, "0001")
    seed_release_0001(old)
    old.dispose()
    runner = CliRunner()

    first = runner.invoke(app, ["cloud", "migrate", "--db", url])
    assert first.exit_code == 0, first.output
    assert "schema before: 0001" in first.output
    assert f"schema after:  {HEAD} (newest)" in first.output

    second = runner.invoke(app, ["cloud", "migrate"], env={"SITEWATCH_DB_URL": url})
    assert second.exit_code == 0, second.output
    assert f"{HEAD} (newest; nothing to do)" in second.output

    broken = runner.invoke(app, ["cloud", "migrate", "--db", "nosuchdb://x"])
    assert broken.exit_code == 2
    assert json.dumps("nosuchdb://x")[1:-1] in broken.output


def test_a_json_payload_column_from_before_bulk_ingest_becomes_text(engine: Engine) -> None:
    upgrade_to(engine, "0001")
    with engine.begin() as connection:  # releases before the bulk ingest stored payload as JSON
        config = alembic_config()
        config.attributes["connection"] = connection
        context = MigrationContext.configure(connection)
        with Operations.context(context), op.batch_alter_table("messages") as batch:
            batch.alter_column(
                "payload",
                type_=sa.JSON(),
                existing_type=sa.Text(),
                postgresql_using="payload::json",
            )
    seed_release_0001(engine)

    migrate(engine)

    with engine.connect() as connection:
        payload = connection.scalar(select(StoredMessage.payload))
        assert payload == {"seq": 7, "items": [{"point": "run_fail"}]}
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
