"""Store a batch of received messages in one transaction; a bad message is dead-lettered, never the batch lost.

The writer knows nothing of MQTT: it gets topics and payloads as received, and returns the
positions to confirm once its transaction has committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cloud import store
from cloud.alarms import lifecycle
from cloud.commands import EdgeCommand, take_commands
from cloud.db import WriterTurns, turn
from cloud.telemetry import TelemetrySink
from cloud.working_set import WorkingSet
from sitewatch import wire
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 3


@dataclass(slots=True, eq=False)
class Incoming:
    """A message as received: its topic, its payload, and what the broker needs to hear back."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    # Set once its transaction has committed (or storing it was given up); see PubackQueue.
    settled: bool = False
    stored: bool = False


Decoded = tuple[Incoming, "wire.AnyMessage | wire.WireError"]

# Called after each commit with the alarms it changed and the edge commands it decided on.
AfterCommit = Callable[[list[int], list[EdgeCommand]], None]


class BatchWriter:
    """Writes batches for any number of threads at once: each call has its own session."""

    def __init__(
        self,
        sites: dict[str, Site],
        sessions: sessionmaker[Session],
        telemetry: TelemetrySink | None = None,
        after_commit: AfterCommit | None = None,
        turns: WriterTurns | None = None,
    ) -> None:
        self.sites = sites
        self.sessions = sessions
        self.turns = turns
        self.telemetry = telemetry
        self.after_commit = after_commit
        self.dead_letter_count = 0
        self._count_lock = threading.Lock()

    def write_retrying(self, batch: list[Incoming]) -> list[store.Stored]:
        """`write`, again and again while the database is unreachable or another writer changed
        a row under us: unconfirmed messages wait, ingest never dies of an outage."""
        delay = 0.5
        while True:
            try:
                return self.write(batch)
            except StaleDataError:
                log.info("another worker changed an alarm of this batch; storing it again")
                time.sleep(0.05)
            except SQLAlchemyError as exc:
                log.error("database write failed, retrying in %.1f s: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def write(self, batch: list[Incoming]) -> list[store.Stored]:
        """Store the messages as received; return the positions to confirm (dead letters too)."""
        decoded = [self._decode(incoming) for incoming in batch]
        try:
            return self._write_racing(decoded)
        except (OperationalError, StaleDataError):
            raise  # the whole batch is tried again by write_retrying
        except Exception:
            # Something in the batch broke the transaction. Store the messages one by one, so
            # that only the culprit is dead-lettered and everything else still goes in.
            log.exception("storing a batch of %d failed; storing it message by message", len(batch))
            confirmations: list[store.Stored] = []
            for one in decoded:
                confirmations.extend(self._write_alone(one))
            return confirmations

    def _write_racing(self, decoded: list[Decoded]) -> list[store.Stored]:
        """Another worker may insert the same new row (a point, an alarm, a re-sent message)
        between our read and our write; the unique constraint refuses ours, and a new attempt
        finds the row."""
        attempt = 1
        while True:
            try:
                return self._write_once(decoded)
            except IntegrityError:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                attempt += 1
                log.info("a concurrent writer got there first; storing the batch again")

    @staticmethod
    def _decode(incoming: Incoming) -> Decoded:
        try:
            return incoming, wire.decode(incoming.topic, incoming.payload)
        except wire.WireError as exc:
            return incoming, exc

    def _write_once(self, decoded: list[Decoded]) -> list[store.Stored]:
        """All of them in one transaction, their shared rows loaded once."""
        confirmations: list[store.Stored] = []
        with turn(self.turns), self.sessions.begin() as session:
            work = WorkingSet(session, self.sites, self.telemetry)
            store.prepare(
                work,
                self.sites,
                [(m, i.payload) for i, m in decoded if not isinstance(m, wire.WireError)],
            )
            for incoming, message in decoded:
                stored = self._apply(work, incoming, message)
                if stored is not None:
                    confirmations.append(stored)
            work.flush()
            changed = lifecycle.changed_alarms(session)
            commands = take_commands(session)
        if self.after_commit is not None:
            self.after_commit(changed, commands)
        return confirmations

    def _write_alone(self, one: Decoded) -> list[store.Stored]:
        incoming, message = one
        try:
            return self._write_once([one])
        except (OperationalError, StaleDataError):
            raise
        except Exception as exc:
            # A bug of ours or a value the database refuses must not stop ingest; the raw bytes
            # are kept for replay once fixed.
            log.exception("failed to store message on %s", incoming.topic)
            reason = f"internal error while storing: {type(exc).__name__}: {exc}"
            with turn(self.turns), self.sessions.begin() as session:
                stored = self._reject(session, incoming, reason, message)
            return [stored] if stored is not None else []

    def _apply(
        self, work: WorkingSet, incoming: Incoming, message: wire.AnyMessage | wire.WireError
    ) -> store.Stored | None:
        if isinstance(message, wire.WireError):
            return self._reject(work.session, incoming, str(message), None)
        try:
            return store.apply(work, self.sites, message, incoming.payload)
        except store.Rejected as exc:
            return self._reject(work.session, incoming, str(exc), message)

    def _reject(
        self, session: Session, incoming: Incoming, reason: str, message: wire.AnyMessage | None
    ) -> store.Stored | None:
        log.warning("dead-lettered message on %s: %s", incoming.topic, reason)
        store.dead_letter(session, incoming.topic, incoming.payload, reason)
        with self._count_lock:
            self.dead_letter_count += 1
        # Confirm it anyway, so the edge stops re-sending something that will never be accepted.
        if isinstance(message, wire.Envelope):
            return store.Stored(message.site, message.node, message.stream, message.seq, False)
        hint = wire.position_hint(incoming.topic, incoming.payload)
        return store.Stored(*hint, duplicate=False) if hint else None
