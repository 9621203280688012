"""Many rows into one table in one go, past SQLAlchemy's per-row work: COPY or one short statement
on PostgreSQL, the driver's own loop on SQLite.

SQLAlchemy sends an executemany INSERT to PostgreSQL as one statement with a VALUES row per
parameter set ("insertmanyvalues"). With a few hundred rows that statement is tens of kilobytes,
too long for psycopg's query cache, so psycopg parses it again with regular expressions every
time: in a profile of ingest that parsing cost more CPU than everything else the batch did.
Arrays per column (`unnest`) are no better: psycopg escapes every element with a regular
expression. So on PostgreSQL rows that need no conflict check go in with COPY (encoded by
psycopg in C, and nothing for the server to parse or plan). Rows that may be stored already
(`insert_new`) are tried with COPY too, in a savepoint; only if one is stored do they go as one
JSON document, `INSERT ... SELECT FROM json_to_recordset(...) ON CONFLICT DO NOTHING`: a short
statement, parsed and planned once (floats round-trip exactly: Python writes the shortest repr,
PostgreSQL reads it correctly rounded). On SQLite, SQLAlchemy's executemany runs every value
through its bind processing in Python; here only the columns whose type has a bind processor run
it, and sqlite3 loops in C.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import JSON, Column, Dialect, String, Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

_PG = postgresql.dialect()


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


def _driver_error(statement: str, exc: Exception, base: type[Exception]) -> DBAPIError:
    # As if SQLAlchemy had run it: callers tell a lost connection from a busy database from a
    # refused row by SQLAlchemy's exception classes.
    return DBAPIError.instance(statement, None, exc, base)


def insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the session's transaction."""
    if rows:
        columns = _columns(table, rows)
        insert_tuples(session, table, columns, list(map(_getter(columns), rows)))


def insert_tuples(
    session: Session, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`insert` for rows that are tuples already (named tuples too), in `columns` order."""
    if not rows:
        return
    driver = session.connection().connection.driver_connection
    if isinstance(driver, psycopg.Connection):
        _copy(driver, table, columns, rows)
    elif isinstance(driver, sqlite3.Connection):
        statement = _sqlite_insert(table, columns, ())
        values = _sqlite_values(session.get_bind().dialect, table, columns, rows)
        try:
            driver.executemany(statement, values)
        except sqlite3.Error as exc:
            raise _driver_error(statement, exc, sqlite3.Error) from exc
    else:
        session.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def _copy(
    driver: psycopg.Connection[Any],
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    # COPY takes a JSON column's value as its text: encoded here as SQLAlchemy's JSON type
    # would (None as JSON null).
    as_json = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if as_json:
                    listed = list(row)
                    for i in as_json:
                        listed[i] = json.dumps(listed[i], ensure_ascii=False)
                    copy.write_row(listed)
                else:
                    copy.write_row(row)
    except psycopg.Error as exc:
        raise _driver_error(statement, exc, psycopg.Error) from exc


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
    driver = session.connection().connection.driver_connection
    columns = _columns(table, rows)
    if isinstance(driver, sqlite3.Connection):
        return _sqlite_insert_new(session.get_bind().dialect, driver, table, columns, rows, unique)
    if isinstance(driver, psycopg.Connection):
        try:
            # Nearly always none of the rows is stored: COPY takes them for a third of the
            # server's work of ON CONFLICT. In a savepoint, so that a row stored already (a
            # unique violation) undoes only the copy, and the statement below sorts them out.
            with session.begin_nested():
                session.connection()  # SQLAlchemy sends the SAVEPOINT when it is first used
                _copy(driver, table, columns, list(map(_getter(columns), rows)))
            return list(map(_getter(unique), rows))
        except IntegrityError as exc:
            if not isinstance(exc.orig, psycopg.errors.UniqueViolation):
                raise
    statement = _json_insert(table, columns, unique, unique)
    return [tuple(row) for row in session.execute(statement, {"rows": _json(rows)})]


def _sqlite_insert_new(
    dialect: Dialect,
    driver: sqlite3.Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    # One executemany, which reports only how many rows went in. Which ones: the newest rowids.
    # A transaction that writes holds SQLite's one write lock, so nobody inserts in between,
    # and SQLite numbers each new row one above the largest rowid stored.
    statement = _sqlite_insert(table, columns, unique)
    key = _getter(unique)
    cursor = driver.cursor()
    values = _sqlite_values(dialect, table, columns, list(map(_getter(columns), rows)))
    try:
        cursor.executemany(statement, values)
        inserted = cursor.rowcount
        if inserted == len(rows):  # nearly always: nothing was stored before
            return [key(row) for row in rows]
        if inserted == 0:
            return []
        (last,) = cursor.execute("SELECT last_insert_rowid()").fetchone()
        query = f"SELECT {', '.join(unique)} FROM {table.name} WHERE rowid BETWEEN ? AND ?"
        return [tuple(row) for row in cursor.execute(query, (last - inserted + 1, last))]
    except sqlite3.Error as exc:
        raise _driver_error(statement, exc, sqlite3.Error) from exc
    finally:
        cursor.close()


@cache
def _sqlite_insert(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...]) -> str:
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    return sql


Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=64)  # keyed by engine dialect: a few in a process, many in the tests
def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[Processor, ...]:
    return tuple(table.c[name].type.bind_processor(dialect) for name in columns)


def _sqlite_values(
    dialect: Dialect, table: Table, columns: tuple[str, ...], values: Sequence[tuple[Any, ...]]
) -> Sequence[tuple[Any, ...]]:
    """Each row's values as SQLAlchemy would bind them (dates as its text, JSON encoded)."""
    processors = _processors(dialect, table, columns)
    # Thousands of rows a second: only the columns whose type has a processor are processed.
    processed = [(i, process) for i, process in enumerate(processors) if process is not None]
    if not processed:
        return values
    out = []
    # Rows of a batch often share a value (its received_at): processed once, not once a row.
    last: dict[int, tuple[Any, Any]] = {}
    for row in values:
        listed = list(row)
        for i, process in processed:
            value = listed[i]
            seen = last.get(i)
            if seen is not None and seen[0] is value:
                listed[i] = seen[1]
            else:
                listed[i] = process(value)
                last[i] = (value, listed[i])
        out.append(tuple(listed))
    return out


@cache
def _getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's values in `columns` order, as a tuple even for one column."""
    if len(columns) == 1:
        (name,) = columns
        return lambda row: (row[name],)
    return itemgetter(*columns)
