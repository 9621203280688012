"""What SQLite does for the reads a block of code runs: which tables it scans whole, and which
it looks up by index. Tests use it to keep hot and growing tables off full scans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class Plans:
    """The SELECTs run, and what SQLite's query planner says of each (see `plans_of`)."""

    reads: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)  # "table: statement"
    searched: set[str] = field(default_factory=set)  # tables read through an index


@contextmanager
def plans_of(engine: Engine) -> Iterator[Plans]:
    """Record the SELECTs `engine` runs in the block; on leaving, ask SQLite for their plans."""
    plans = Plans()

    def keep(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            plans.reads.append((statement, tuple(parameters)))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        for statement, parameters in plans.reads:
            for *_, detail in driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters):
                if scanned := re.match(r"SCAN (\w+)", detail):
                    plans.scanned.append(f"{scanned[1]}: {' '.join(statement.split())}")
                elif searched := re.match(r"SEARCH (\w+)", detail):
                    plans.searched.add(searched[1])
