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

from sitewatch.closing import Closing

UNSENT = 0
HANDED_OVER = 1
BUDGET_CHECK_EVERY = 100
ROW_OVERHEAD = 64  # bytes a row costs beyond its payload: seq, kind, times, index entries
EVICT_BATCH = 100
MARK_CHUNK = 500  # seqs per UPDATE: one statement, well under SQLite's bound-variable limit

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


# Only telemetry may be lost to a power cut between commit and checkpoint; everything else waits
# for the disk before it counts as written.
RELAXED_KINDS = frozenset({"telemetry"})
# Telemetry goes first when the disk budget is exceeded; events and alarms are never evicted.
EVICTABLE_KINDS = ("telemetry",)


@dataclass(frozen=True)
class KindStatus:
    """The GB 26875 'transmission confirmed by the centre' state of one message class."""

    unsent: int = 0
    handed_over: int = 0
    confirmed: int = 0
    evicted: int = 0
    oldest_unconfirmed_ms: int | None = None


class Outbox(Closing):
    """Thread-safe: paho's network thread confirms rows while the agent's loop adds them."""

    def __init__(self, path: Path, budget_bytes: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.budget_bytes = budget_bytes
        self.over_budget = False
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # A second connection to the same file, for the kinds that may commit without fsync.
        self._relaxed = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._relaxed.execute("PRAGMA synchronous=NORMAL")
        self.stream = self._meta("stream") or self._set_meta("stream", uuid.uuid4().hex)
        # What the rows hold, kept as a running total: the file itself never shrinks, and half-
        # empty pages after a deletion are reused for new rows.
        self._bytes = int(
            self._db.execute(
                f"SELECT COALESCE(SUM(LENGTH(payload)), 0) + COUNT(*) * {ROW_OVERHEAD} FROM outbox"
            ).fetchone()[0]
        )
        # Rows the broker has but the cloud has not confirmed: the edge's flow-control window.
        self.handed_over = int(
            self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE state = ?", (HANDED_OVER,)
            ).fetchone()[0]
        )
        self.enforce_budget()

    def close(self) -> None:
        with self._lock:
            self._relaxed.close()
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
        db = self._relaxed if kind in RELAXED_KINDS else self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(
                    "INSERT INTO outbox (kind, created_ms) VALUES (?, ?)",
                    (kind, int(time.time() * 1000)),
                )
                seq = int(cursor.lastrowid or 0)
                payload = build(seq)
                db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (payload, seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._bytes += len(payload) + ROW_OVERHEAD
            if self.budget_bytes is not None and seq % BUDGET_CHECK_EVERY == 0:
                self.enforce_budget()
            return seq

    def used_bytes(self) -> int:
        """What the waiting rows hold: payloads plus a fixed allowance per row."""
        return self._bytes

    def enforce_budget(self) -> int:
        """Evict the oldest telemetry until the outbox fits its budget; returns rows evicted.

        If only events and alarms are left and it still does not fit, they are kept and
        `over_budget` says so (the node reports it as a trouble).
        """
        if self.budget_bytes is None:
            return 0
        evicted = 0
        with self._lock:
            while self._bytes > self.budget_bytes:
                sizes = self._db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind IN "
                    f"({','.join('?' * len(EVICTABLE_KINDS))}) ORDER BY seq LIMIT ?) "
                    "RETURNING LENGTH(payload), state",
                    (*EVICTABLE_KINDS, EVICT_BATCH),
                ).fetchall()
                if not sizes:
                    break
                evicted += len(sizes)
                self._bytes -= sum(size or 0 for size, _ in sizes) + len(sizes) * ROW_OVERHEAD
                self.handed_over -= sum(state == HANDED_OVER for _, state in sizes)
                self._bump("evicted:telemetry", len(sizes))
            self.over_budget = self._bytes > self.budget_bytes
        return evicted

    def _bump(self, key: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
            (key, str(by), by),
        )

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

    def mark_handed_over(self, *seqs: int) -> None:
        """The broker has these rows (PUBACK); they wait for the cloud's confirmation now."""
        now = int(time.time() * 1000)
        with self._lock:
            # Without an fsync: if a power cut loses the mark, the row is merely published
            # again and the cloud drops the duplicate.
            for start in range(0, len(seqs), MARK_CHUNK):
                chunk = seqs[start : start + MARK_CHUNK]
                self.handed_over += self._relaxed.execute(
                    f"UPDATE outbox SET state = ?, handed_ms = ? WHERE state = ? "
                    f"AND seq IN ({','.join('?' * len(chunk))})",
                    (HANDED_OVER, now, UNSENT, *chunk),
                ).rowcount

    def confirm(self, ranges: list[tuple[int, int]]) -> int:
        """Delete rows the cloud has stored; returns how many went."""
        with self._lock:
            kinds: dict[str, int] = {}
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for low, high in ranges:
                    for kind, size, state in self._db.execute(
                        "DELETE FROM outbox WHERE seq BETWEEN ? AND ? "
                        "RETURNING kind, LENGTH(payload), state",
                        (low, high),
                    ).fetchall():
                        kinds[kind] = kinds.get(kind, 0) + 1
                        self._bytes -= (size or 0) + ROW_OVERHEAD
                        self.handed_over -= state == HANDED_OVER
                for kind, count in kinds.items():
                    self._bump(f"confirmed:{kind}", count)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if self.over_budget:
                self.over_budget = self._bytes > (self.budget_bytes or 0)
            return sum(kinds.values())

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Handed-over rows the cloud never confirmed go back to unsent, to be published again."""
        cutoff = int((time.time() - older_than_s) * 1000)
        with self._lock:
            requeued = self._db.execute(
                "UPDATE outbox SET state = ?, handed_ms = NULL WHERE state = ? AND handed_ms <= ?",
                (UNSENT, HANDED_OVER, cutoff),
            ).rowcount
            self.handed_over -= requeued
            return requeued

    def status(self) -> dict[str, KindStatus]:
        """Per message kind: unsent, handed over, confirmed and evicted, and the oldest wait."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, state, COUNT(*), MIN(created_ms) FROM outbox GROUP BY kind, state"
            ).fetchall()
            totals = self._db.execute(
                "SELECT key, value FROM meta WHERE key LIKE 'confirmed:%' OR key LIKE 'evicted:%'"
            ).fetchall()
        fields: dict[str, dict[str, int | None]] = {}
        for kind, state, count, oldest in rows:
            entry = fields.setdefault(kind, {})
            entry["unsent" if state == UNSENT else "handed_over"] = count
            previous = entry.get("oldest_unconfirmed_ms")
            entry["oldest_unconfirmed_ms"] = oldest if previous is None else min(previous, oldest)
        for key, value in totals:
            what, kind = key.split(":", 1)
            fields.setdefault(kind, {})[what] = int(value)
        return {kind: KindStatus(**values) for kind, values in fields.items()}  # type: ignore[arg-type]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per kind, what is still waiting: unsent and handed over (for the heartbeat)."""
        return {
            kind: {"unsent": st.unsent, "handed_over": st.handed_over}
            for kind, st in self.status().items()
            if st.unsent or st.handed_over
        }

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
