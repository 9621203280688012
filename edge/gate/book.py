"""The gate node's card book: the card list it decides from and where each card was last let
through, in a SQLite file in the edge's state directory, so both survive a restart.

Lookups never touch the disk: everything is loaded into dicts at start. Writes go to the file on
one worker thread, in order, so a 50,000-card list being stored never holds up a read at a lane;
the in-memory state changes on the caller's thread at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from edge.gate.decide import Presence
from sitewatch import wire
from sitewatch.closing import Closing

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cards (
    card TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    valid_from INTEGER,
    valid_until INTEGER,
    lanes TEXT
);
CREATE TABLE IF NOT EXISTS presence (
    card TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    lane TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
"""


def _entry(row: tuple) -> wire.CardEntry:
    card, card_type, status, valid_from, valid_until, lanes = row
    # model_construct: these rows were validated when the list arrived; re-validating 50,000 of
    # them would slow every start for nothing.
    return wire.CardEntry.model_construct(
        card=card,
        type=wire.CardType(card_type),
        status=wire.CardStatus(status),
        valid_from=valid_from,
        valid_until=valid_until,
        lanes=json.loads(lanes) if lanes is not None else None,
    )


def _log_failure(future: Future[None]) -> None:
    # The pass has been decided and the relay moved; a presence that could not be written is
    # lost only across a restart, so it is logged rather than raised into nobody's hands.
    if not future.cancelled() and future.exception() is not None:
        log.error("could not store anti-passback presence", exc_info=future.exception())


class CardBook(Closing):
    """The persisted card list (one version at a time) and per-card anti-passback presence."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A card list is committed with fsync: CardListLoaded tells the cloud it is on disk.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        self.version: int | None = int(row[0]) if row else None
        self.cards: dict[str, wire.CardEntry] = {
            row[0]: _entry(row) for row in self._db.execute("SELECT * FROM cards")
        }
        self.presence: dict[str, Presence] = {
            card: Presence(direction, lane, at_ms)
            for card, direction, lane, at_ms in self._db.execute("SELECT * FROM presence")
        }
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-book")
        self._db_lock = threading.Lock()
        self._closed = False

    def lookup(self, card: str) -> wire.CardEntry | None:
        return self.cards.get(card)

    # -- the card list ---------------------------------------------------------------------------

    async def load(self, cards: wire.CardList) -> bool:
        """Store `cards` if its version is higher than the one held, then decide from it.

        True when it was stored; False for the same or an older version (a retained list is
        delivered again on every reconnect, and an old one must never undo a lost-card block).
        """
        if self.version is not None and cards.version <= self.version:
            if cards.version < self.version:
                log.warning(
                    "ignoring card list version %d: version %d is loaded",
                    cards.version,
                    self.version,
                )
            return False
        stored = await asyncio.wrap_future(self._writer.submit(self._store, cards))
        if not stored or (self.version is not None and cards.version <= self.version):
            return False
        # One assignment each: a read sees the old list or the new one, never half of each.
        self.cards = {entry.card: entry for entry in cards.cards}
        self.version = cards.version
        self.presence = {c: p for c, p in self.presence.items() if c in self.cards}
        return True

    def _store(self, cards: wire.CardList) -> bool:
        """On the writer thread: replace the list in one transaction, if still newer."""
        rows = [
            (
                e.card,
                e.type.value,
                e.status.value,
                e.valid_from,
                e.valid_until,
                json.dumps(e.lanes) if e.lanes is not None else None,
            )
            for e in cards.cards
        ]
        with self._db_lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                if row is not None and int(row[0]) >= cards.version:
                    db.execute("ROLLBACK")
                    return False
                db.execute("DELETE FROM cards")
                db.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?, ?, ?)", rows)
                # A card that left the list has no business being remembered inside.
                db.execute("DELETE FROM presence WHERE card NOT IN (SELECT card FROM cards)")
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)",
                    (str(cards.version),),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return True

    # -- anti-passback presence ------------------------------------------------------------------

    def record(self, card: str, presence: Presence) -> Future[None]:
        """Remember an allowed pass now; the file follows on the writer thread, in order."""
        self.presence[card] = presence
        future = self._writer.submit(self._store_presence, card, presence)
        future.add_done_callback(_log_failure)
        return future

    def _store_presence(self, card: str, presence: Presence) -> None:
        with self._db_lock:
            self._db.execute(
                "INSERT OR REPLACE INTO presence VALUES (?, ?, ?, ?)",
                (card, presence.direction, presence.lane, presence.at_ms),
            )

    def flush(self) -> None:
        """Wait until every write handed to the writer thread is on disk."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        with self._db_lock:
            self._db.close()
