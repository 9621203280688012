"""The durable SQLite outbox: every message is committed here before it is published.

Rows move unsent → handed over (broker PUBACK) → deleted (cloud `ack`). The `stream` id is made
when the database is created; `seq` never repeats (AUTOINCREMENT), so `(stream, seq)` is unique
for the life of the SD card.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

UNSENT = 0
HANDED_OVER = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload BLOB,
    state INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    handed_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox (state, kind, seq);
"""

# The fire fast lane first, then everything else strictly in order, the birth included: the
# cloud applies a point's values in order, so a change made during an outage is never hidden
# behind a newer birth.


@dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    payload: bytes


class Outbox:
    """Thread-safe: paho's network thread confirms rows while the agent's loop adds them."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.stream = self._meta("stream") or self._set_meta("stream", uuid.uuid4().hex)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

    def next_boot(self) -> int:
        """Increment and return the boot counter (once per connect, like Sparkplug bdSeq)."""
        with self._lock:
            boot = int(self._meta("boot") or "0") + 1
            self._set_meta("boot", str(boot))
            return boot

    def add(self, kind: str, build: Callable[[int], bytes]) -> int:
        """Commit a message; `build(seq)` makes its payload once its seq is known."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO outbox (kind, created_ms) VALUES (?, ?)",
                    (kind, int(time.time() * 1000)),
                )
                seq = int(cursor.lastrowid or 0)
                self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (build(seq), seq))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return seq

    def unsent(self, limit: int, exclude: set[int]) -> list[Row]:
        """The next rows to publish: unsent fire alarms first, then the rest by seq."""
        with self._lock:
            alarms = self._db.execute(
                "SELECT seq, kind, payload FROM outbox WHERE state = ? AND kind = 'alarm' "
                "ORDER BY seq LIMIT ?",
                (UNSENT, limit + len(exclude)),
            ).fetchall()
            rest = self._db.execute(
                "SELECT seq, kind, payload FROM outbox WHERE state = ? AND kind != 'alarm' "
                "ORDER BY seq LIMIT ?",
                (UNSENT, limit + len(exclude)),
            ).fetchall()
        return [Row(*r) for r in [*alarms, *rest] if r[0] not in exclude][:limit]

    def mark_handed_over(self, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, handed_ms = ? WHERE seq = ? AND state = ?",
                (HANDED_OVER, int(time.time() * 1000), seq, UNSENT),
            )

    def confirm(self, ranges: list[tuple[int, int]]) -> int:
        """Delete rows the cloud has stored; returns how many went."""
        with self._lock:
            deleted = 0
            for low, high in ranges:
                deleted += self._db.execute(
                    "DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (low, high)
                ).rowcount
            return deleted

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Handed-over rows the cloud never confirmed go back to unsent, to be published again."""
        cutoff = int((time.time() - older_than_s) * 1000)
        with self._lock:
            return self._db.execute(
                "UPDATE outbox SET state = ?, handed_ms = NULL WHERE state = ? AND handed_ms < ?",
                (UNSENT, HANDED_OVER, cutoff),
            ).rowcount

    def counts(self) -> dict[str, dict[str, int]]:
        """Per message kind: how many rows are unsent and handed over (confirmed rows are gone)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, state, COUNT(*) FROM outbox GROUP BY kind, state"
            ).fetchall()
        result: dict[str, dict[str, int]] = {}
        for kind, state, count in rows:
            entry = result.setdefault(kind, {"unsent": 0, "handed_over": 0})
            entry["unsent" if state == UNSENT else "handed_over"] = count
        return result

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
