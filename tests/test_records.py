"""Sealed records: the hash chain verifies, and any later change to stored history is found and
named (by `verify` and by `sitewatch cloud verify-records`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.records.seal import seal, verify
from sitewatch.cli import app

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def three(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for ref in ("1", "2", "3"):
            seal(
                session,
                "harbour-view",
                "handover",
                ref,
                {"notes": f"第{ref}班", "n": int(ref)},
                "王芳, 赵敏",
                AT,
            )


def _tamper(engine: Engine, statement: str) -> None:
    """What a person with database rights could do: switch the guard off, change a row."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE sealed_records DISABLE TRIGGER USER"))
            connection.execute(text(statement))
            connection.execute(text("ALTER TABLE sealed_records ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER sealed_records_no_update"))
            connection.execute(text("DROP TRIGGER sealed_records_no_delete"))
            connection.execute(text(statement))


def test_an_intact_chain_verifies(sessions: sessionmaker[Session], db_url: str) -> None:
    three(sessions)
    with sessions() as session:
        assert verify(session) == (3, [])
    result = CliRunner().invoke(app, ["cloud", "verify-records", "--db", db_url])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert "3 sealed records checked" in said and "the chain is intact" in said


def test_a_changed_record_is_found_and_named(
    sessions: sessionmaker[Session], db_engine: Engine, db_url: str
) -> None:
    three(sessions)
    _tamper(
        db_engine, "UPDATE sealed_records SET body = replace(body, '第2班', '第9班') WHERE seq = 2"
    )
    with sessions() as session:
        count, problems = verify(session)
    assert count == 3
    assert [str(p) for p in problems] == [
        "record 2 (handover 2): its content does not match its hash: it was changed after sealing"
    ]
    result = CliRunner().invoke(app, ["cloud", "verify-records", "--db", db_url])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "record 2 (handover 2)" in said and "1 problem(s)" in said


def test_a_removed_record_is_found(sessions: sessionmaker[Session], db_engine: Engine) -> None:
    three(sessions)
    _tamper(db_engine, "DELETE FROM sealed_records WHERE seq = 2")
    with sessions() as session:
        _, problems = verify(session)
    assert [p.seq for p in problems] == [3, 3]
    assert "a record was removed or inserted" in problems[0].problem
    assert "does not follow the record before it" in problems[1].problem


def test_the_database_refuses_to_change_a_sealed_record(sessions: sessionmaker[Session]) -> None:
    import pytest
    from sqlalchemy.exc import DBAPIError

    three(sessions)
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
        session.execute(text("UPDATE sealed_records SET sealed_by = 'someone else'"))
