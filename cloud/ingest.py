"""Subscribe to edge messages, store each in a transaction, then confirm it to edge and broker.

A message is acked to the broker and confirmed to its edge only after its transaction commits.
Bad input goes to the dead-letter table with its reason and is confirmed, so ingest never stops.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cloud import ingest_client, store
from cloud.alarms import clock, lifecycle
from cloud.alarms.feed import AlarmFeed
from cloud.commands import take_commands
from cloud.duty import log as duty_log
from cloud.gates.publisher import CardListPublisher
from cloud.inspection import signoff as inspections
from cloud.models import utcnow
from cloud.patrol import clock as patrol_clock
from cloud.telemetry import TelemetrySink
from cloud.working_set import LOCK_GROUPS, WorkingSet, node_groups
from sitewatch import wire
from sitewatch.broker import BrokerAddress, configure_tls
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)

# Messages stored together at most: a batch's loads and commit cost the same for 500 as for
# 1,000. Half the broker's in-flight window, so the next batch arrives while one is stored:
# MQTT 5 workers ask for 2 * BATCH (Receive Maximum); a 3.1.1 cloud gets the broker's
# max_inflight_messages (1,000 in config/mosquitto) and stores half of that at a time.
BATCH = 1000
ACK_EARLY = 500  # positions waiting that are confirmed without waiting out the interval
SUPERVISE_EVERY_S = 5.0
TICK_EVERY_S = 1.0
CONFLICT_ATTEMPTS = 3
ACK_WINDOW = 1000  # acks paho may have in flight
GC_THRESHOLDS = (50_000, 20, 20)  # the cyclic GC's, see `_tune_gc`
RECEIVE_MAXIMUM = 2 * BATCH


def _tune_gc() -> None:
    """Ingest makes and drops ORM objects by the hundred thousand a second; with Python's
    defaults the cyclic GC (every 700 allocations, walking all of startup's objects) took
    15-20% of the writer's CPU. Process-wide, and harmless to an API beside ingest."""
    gc.freeze()
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int


Decoded = tuple[Incoming, "wire.AnyMessage | wire.WireError"]


class Ingest:
    """One ingest worker: a paho subscriber feeding a single database-writer thread."""

    def __init__(
        self,
        sites: dict[str, Site],
        sessions: sessionmaker[Session],
        broker: BrokerAddress,
        client_id: str = "sw-cloud-1",
        ack_interval_s: float = 1.0,
        on_stored: Callable[[], None] | None = None,
        feed: AlarmFeed | None = None,
        share_group: str | None = None,
        telemetry: TelemetrySink | None = None,
    ) -> None:
        self.sites = sites
        self.sessions = sessions
        self.broker = broker
        self.ack_interval_s = ack_interval_s
        self.on_stored = on_stored
        self.connected = threading.Event()
        self.stored_count = 0
        self.dead_letter_count = 0
        # SimpleQueue: put() from paho's thread is one C call, not a lock and a condition.
        self._queue: queue.SimpleQueue[Incoming | None] = queue.SimpleQueue()
        self._pending_acks: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        self._last_ack_flush = 0.0
        self._next_supervision = 0.0
        self._next_tick = 0.0
        self.feed = feed
        self._watching_since = utcnow()
        self._worker: threading.Thread | None = None
        self.share_group = share_group
        self.telemetry = telemetry
        self.card_lists = CardListPublisher(sites, self._publish_retained)
        self._dialect = sessions.kw["bind"].dialect.name
        self._batch = BATCH if share_group is not None else BATCH // 2
        self._client = ingest_client.make_client(client_id, shared=share_group is not None)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        configure_tls(self._client, broker)
        # Acks to the edges are QoS 1 too: with paho's default window of 20 they queue behind
        # the flood of incoming messages, and the edges stall on their confirmation window.
        self._client.max_inflight_messages_set(ACK_WINDOW)
        self._client.reconnect_delay_set(1, 5)
        self._client.will_set(
            wire.CLOUD_STATE_TOPIC, wire.cloud_state(online=False), qos=1, retain=True
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        if isinstance(self._client, ingest_client.IngestClient):
            self._client.receiver = self._receive

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the cloud: %s", self.broker, reason)
            return
        kinds = (
            wire.Kind.BIRTH,
            wire.Kind.DEATH,
            wire.Kind.EVENT,
            wire.Kind.ALARM,
            wire.Kind.TELEMETRY,
        )
        prefix = f"$share/{self.share_group}/" if self.share_group else ""
        client.subscribe([(prefix + wire.Topic.filter(kind=k), 1) for k in kinds])
        client.publish(wire.CLOUD_STATE_TOPIC, wire.cloud_state(online=True), qos=1, retain=True)
        # A restarted broker may have lost its retained card lists: send them all again.
        self.card_lists.sent.clear()
        self.connected.set()
        log.info("cloud ingest connected to %s", self.broker)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Only queue it: decoding happens in the writer thread, where failures are handled.
        self._queue.put(Incoming(message.topic, bytes(message.payload), message.mid, message.qos))

    def _receive(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self._queue.put(Incoming(topic, payload, mid, qos))

    def start(self) -> None:
        _tune_gc()
        self._worker = threading.Thread(target=self._work, name="sitewatch-ingest", daemon=True)
        self._worker.start()
        ingest_client.connect_async(
            self._client, self.broker, shared=self.share_group is not None, window=RECEIVE_MAXIMUM
        )
        self._client.loop_start()

    def send_command(self, site: str, node: str, name: str, args: dict[str, Any]) -> bool:
        """Publish a command to one edge node; False if the broker is not reachable now."""
        command = wire.Command(site=site, node=node, name=name, args=args, ts=wire.now_ms())
        topic, payload = wire.encode(command)
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS and self.connected.is_set()

    def stop(self) -> None:
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._client.publish(
            wire.CLOUD_STATE_TOPIC, wire.cloud_state(online=False), qos=1, retain=True
        )
        self._client.disconnect()
        self._client.loop_stop()

    def _work(self) -> None:
        running = True
        while running:
            self._supervise_if_due()
            self._tick_if_due()
            try:
                first = self._queue.get(timeout=min(self.ack_interval_s / 2, TICK_EVERY_S))
            except queue.Empty:
                self._flush_acks()
                continue
            batch: list[Incoming] = []
            item: Incoming | None = first
            while item is not None:
                batch.append(item)
                if len(batch) >= self._batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if item is None:
                running = False
            try:
                if batch:
                    self._store_retrying(batch)
                self._flush_acks()
            except Exception:
                # Never let the writer thread die silently while the API keeps serving.
                log.exception("ingest batch failed; its messages stay unconfirmed and come again")
        self._flush_acks(force=True)

    def _tick_if_due(self) -> None:
        """Delays, shelving and suppression windows run out with no message to tell us."""
        self._next_tick = self._on_clock(
            self._next_tick,
            TICK_EVERY_S,
            "the alarm clock",
            self._tick,
        )

    def _tick(self, session: Session) -> None:
        now = utcnow()
        clock.tick(session, self.sites, now)
        patrol_clock.tick(session, self.sites, now, self._watching_since)
        duty_log.tick(session, self.sites, now, self._watching_since)
        inspections.tick(session, self.sites, now)
        if self.connected.is_set():
            self.card_lists.sync(session)

    def _publish_retained(self, topic: str, payload: bytes) -> bool:
        info = self._client.publish(topic, payload, qos=1, retain=True)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _supervise_if_due(self) -> None:
        """Silence produces no message, so link supervision runs on the clock."""

        def supervise(session: Session) -> None:
            for node in store.supervise(session, self.sites, utcnow(), self._watching_since):
                log.warning("node %s went silent: link trouble raised", node)

        self._next_supervision = self._on_clock(
            self._next_supervision, SUPERVISE_EVERY_S, "link supervision", supervise
        )

    def _on_clock(
        self, due: float, every_s: float, what: str, job: Callable[[Session], object]
    ) -> float:
        """Run `job` in its own transaction if it is due, tell the consoles which alarms it
        changed, and return when it is due next. A database error waits for the next time."""
        now = time.monotonic()
        if now < due:
            return due
        try:
            with self.sessions.begin() as session:
                job(session)
                session.flush()
                changed = lifecycle.changed_alarms(session)
            self._tell(changed)
        except SQLAlchemyError as exc:
            log.error("%s failed, will retry: %s", what, exc)
        except Exception:
            # A bug in one clock job must not stop the writer thread (and with it all ingest).
            log.exception("%s failed, will retry", what)
        return now + every_s

    def _tell(self, changed: list[int]) -> None:
        if self.feed is not None and changed:
            self.feed.publish(changed)

    def _store_retrying(self, batch: list[Incoming]) -> None:
        """A database outage must not kill ingest: unconfirmed messages wait and are retried."""
        delay = 0.5
        while True:
            try:
                self.store_batch(batch)
                return
            except StaleDataError:
                log.info("another worker changed an alarm of this batch; storing it again")
                time.sleep(0.05)
            except SQLAlchemyError as exc:
                log.error("database write failed, retrying in %.1f s: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def store_batch(self, batch: list[Incoming]) -> None:
        """Store messages as received, then ack them to the broker and queue their confirmations."""
        decoded = [self._decode(incoming) for incoming in batch]
        try:
            confirmations = self._store_racing(decoded)
        except (OperationalError, StaleDataError):
            # The database is unreachable or busy, or another writer changed a row under us:
            # the whole batch is tried again by _store_retrying.
            raise
        except Exception:
            # Something in the batch broke the transaction. Store the messages one by one, so
            # that only the culprit is dead-lettered and everything else still goes in.
            log.exception("storing a batch of %d failed; storing it message by message", len(batch))
            confirmations = []
            for one in decoded:
                confirmations.extend(self._store_alone(one))
        # Committed: now it is safe to tell the broker and the edges.
        ingest_client.ack_all(self._client, ((i.mid, i.qos) for i in batch))
        for stored in confirmations:
            self._pending_acks[(stored.site, stored.node, stored.stream)].append(stored.seq)
            if stored.rebirth:
                self.send_command(stored.site, stored.node, "rebirth", {})
        self.stored_count += len(batch)
        if self.on_stored is not None:
            self.on_stored()

    def _store_racing(self, decoded: list[Decoded]) -> list[store.Stored]:
        """Another worker may insert the same new row (a point, an alarm, a re-sent message)
        between our read and our write; the unique constraint refuses ours, and a new attempt
        finds the row."""
        attempt = 1
        while True:
            try:
                return self._store_batch(decoded)
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

    def _store_batch(self, decoded: list[Decoded]) -> list[store.Stored]:
        """All of them in one transaction per group of nodes (see `node_groups`)."""
        groups = 1 if self._dialect != "postgresql" else LOCK_GROUPS
        confirmations: list[store.Stored] = []
        for group in node_groups(decoded, lambda one: one[0].topic, groups):
            confirmations.extend(self._store_group(group))
        return confirmations

    def _store_group(self, decoded: list[Decoded]) -> list[store.Stored]:
        """All of them in one transaction, their shared rows loaded once."""
        confirmations: list[store.Stored] = []
        with self.sessions.begin() as session:
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
        self._tell(changed)
        for command in commands:  # committed: now the readers may show it
            self.send_command(command.site, command.node, command.name, command.args)
        return confirmations

    def _store_alone(self, one: Decoded) -> list[store.Stored]:
        incoming, message = one
        try:
            return self._store_batch([one])
        except (OperationalError, StaleDataError):
            raise
        except Exception as exc:
            # A bug of ours or a value the database refuses must not stop ingest; the raw bytes
            # are kept for replay once fixed.
            log.exception("failed to store message on %s", incoming.topic)
            reason = f"internal error while storing: {type(exc).__name__}: {exc}"
            with self.sessions.begin() as session:
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
        self.dead_letter_count += 1
        # Confirm it anyway, so the edge stops re-sending something that will never be accepted.
        if isinstance(message, wire.Envelope):
            return store.Stored(message.site, message.node, message.stream, message.seq, False)
        hint = wire.position_hint(incoming.topic, incoming.payload)
        return store.Stored(*hint, duplicate=False) if hint else None

    def _flush_acks(self, force: bool = False) -> None:
        """Confirm stored positions at least every `ack_interval_s`, and sooner once a batch's
        worth is waiting: the edge holds back its backlog until its rows are confirmed, so
        waiting out the interval would cap a replay at one window of rows per interval."""
        now = time.monotonic()
        waiting = sum(len(seqs) for seqs in self._pending_acks.values())
        due = force or now - self._last_ack_flush >= self.ack_interval_s or waiting >= ACK_EARLY
        if not waiting or not due:
            return
        self._last_ack_flush = now
        pending, self._pending_acks = self._pending_acks, defaultdict(list)
        for (site, node, stream), seqs in pending.items():
            ranges = wire.seq_ranges(seqs)
            for start in range(0, len(ranges), wire.MAX_ACK_RANGES):
                chunk = ranges[start : start + wire.MAX_ACK_RANGES]
                ack = wire.Ack(site=site, node=node, stream=stream, ranges=chunk, ts=wire.now_ms())
                topic, payload = wire.encode(ack)
                self._client.publish(topic, payload, qos=1)
