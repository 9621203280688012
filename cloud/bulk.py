"""Many rows in one INSERT statement whose text does not depend on how many rows there are.

SQLAlchemy sends an executemany INSERT to PostgreSQL as one statement with a VALUES row per
parameter set ("insertmanyvalues"). With a few hundred rows that statement is tens of kilobytes,
too long for psycopg's query cache, so psycopg parses it again with regular expressions every
time: in a profile of ingest that parsing cost more CPU than everything else the batch did.
Arrays per column (`unnest`) are no better: psycopg escapes every element with a regular
expression. On PostgreSQL the rows therefore go in as one JSON document,
`INSERT ... SELECT FROM json_to_recordset(...)`: a short statement, parsed and planned once, and
the rows encoded and decoded in C (floats round-trip exactly: Python writes the shortest repr,
PostgreSQL reads it correctly rounded). SQLite has no such parsing cost; it keeps SQLAlchemy's
executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Column, String, Table, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_PG = postgresql.dialect()


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _type_of(column: Column[Any]) -> str:
    # A record field of VARCHAR(n) would truncate a long string silently; TEXT leaves the length
    # check to the insert, which refuses it as a plain INSERT does.
    if isinstance(column.type, String):
        return "TEXT"
    return column.type.compile(dialect=_PG)


@cache
def _json_insert(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[str, ...]
) -> TextClause:
    fields = ", ".join(f"{name} {_type_of(table.c[name])}" for name in columns)
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) "
        f"SELECT {names} FROM json_to_recordset(CAST(:rows AS json)) AS given({fields})"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


def _columns(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    # Every row has the same keys (callers build them in one place); table order, for a
    # statement text that is the same every time.
    keys = rows[0].keys()
    return tuple(column.name for column in table.columns if column.name in keys)


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_encode, ensure_ascii=False, allow_nan=False)


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Sitewatch stores aware UTC times")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value bulk.insert can send")


def insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the session's transaction."""
    if not rows:
        return
    if _is_postgresql(session):
        statement = _json_insert(table, _columns(table, rows), (), ())
        session.execute(statement, {"rows": _json(rows)})
    else:
        session.execute(table.insert(), list(rows))


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """Insert the rows whose `unique` columns are not in `table` yet; return those columns of
    the rows inserted. A row that a concurrent transaction inserted and has not committed yet
    waits for it, and is skipped if it commits."""
    if not rows:
        return []
    if _is_postgresql(session):
        statement = _json_insert(table, _columns(table, rows), unique, unique)
        return [tuple(row) for row in session.execute(statement, {"rows": _json(rows)})]
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(*(table.c[name] for name in unique))
    )
    return [tuple(row) for row in session.execute(statement, list(rows))]
