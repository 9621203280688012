"""Subscribe to edge messages, store each in a transaction, then confirm it to edge and broker.

A message is acked to the broker and confirmed to its edge only after its transaction commits.
Bad input goes to the dead-letter table with its reason and is confirmed, so ingest never stops.
Each node's messages are written by one writer lane, in order (see `cloud.lanes`).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud import ingest_client, store
from cloud.alarms import clock, lifecycle
from cloud.alarms.feed import AlarmFeed
from cloud.batch_writer import BatchWriter, Incoming
from cloud.commands import EdgeCommand
from cloud.db import turn, writer_turns
from cloud.duty import log as duty_log
from cloud.gates.publisher import CardListPublisher
from cloud.inspection import signoff as inspections
from cloud.lanes import LaneRouter, lanes_for
from cloud.models import utcnow
from cloud.patrol import clock as patrol_clock
from cloud.telemetry import TelemetrySink
from sitewatch import wire
from sitewatch.broker import BrokerAddress, configure_tls
from sitewatch.siteconfig import Site

__all__ = ["ACK_EARLY", "Incoming", "Ingest"]

log = logging.getLogger(__name__)

# Messages a lane stores together at most: a batch's loads and commit cost the same for 500 as
# for 1,000. Each lane gets twice that of the broker's in-flight window, so its next batch
# arrives while one is stored: MQTT 5 workers ask for 2 * BATCH per lane (Receive Maximum); a
# 3.1.1 cloud gets the broker's max_inflight_messages (1,000 in config/mosquitto) and shares
# half of that out among its lanes.
BATCH = 1000
INFLIGHT_311 = 1000
ACK_EARLY = 500  # positions waiting that are confirmed without waiting out the interval
SUPERVISE_EVERY_S = 5.0
TICK_EVERY_S = 1.0
ACK_WINDOW = 1000  # acks paho may have in flight
GC_THRESHOLDS = (50_000, 20, 20)  # the cyclic GC's, see `_tune_gc`

Position = tuple[str, str, str]  # site, node, stream


def _tune_gc() -> None:
    """Ingest makes and drops ORM objects by the hundred thousand a second; with Python's
    defaults the cyclic GC (every 700 allocations, walking all of startup's objects) took
    15-20% of the writer's CPU. Process-wide, and harmless to an API beside ingest."""
    gc.freeze()
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class Lane:
    """One writer thread, the messages of its nodes, and the positions it has yet to confirm."""

    index: int
    # SimpleQueue: put() from paho's thread is one C call, not a lock and a condition.
    queue: queue.SimpleQueue[Incoming | None] = field(default_factory=queue.SimpleQueue)
    pending_acks: dict[Position, list[int]] = field(default_factory=lambda: defaultdict(list))
    last_ack_flush: float = 0.0
    thread: threading.Thread | None = None


class Ingest:
    """One ingest worker: a paho subscriber feeding one database-writer thread per lane."""

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
        lanes: int | None = None,
    ) -> None:
        self.sites = sites
        self.sessions = sessions
        self.broker = broker
        self.ack_interval_s = ack_interval_s
        self.on_stored = on_stored
        self.connected = threading.Event()
        self.stored_count = 0
        self._count_lock = threading.Lock()
        self._next_supervision = 0.0
        self._next_tick = 0.0
        self.feed = feed
        self._watching_since = utcnow()
        self.share_group = share_group
        self.telemetry = telemetry
        engine = sessions.kw["bind"]
        self.writer = BatchWriter(
            sites, sessions, telemetry, self._after_commit, turns=writer_turns(engine)
        )
        self.card_lists = CardListPublisher(sites, self._publish_retained)
        self.router = LaneRouter(lanes or lanes_for(engine.dialect.name))
        self.lanes = [Lane(index) for index in range(self.router.lanes)]
        self._pubacks = ingest_client.PubackQueue()
        shared = share_group is not None
        self._batch = BATCH if shared else INFLIGHT_311 // (2 * len(self.lanes))
        self._window = 2 * BATCH * len(self.lanes)  # MQTT 5: asked of the broker
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

    @property
    def dead_letter_count(self) -> int:
        return self.writer.dead_letter_count

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
        self._pubacks.reset()
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
        self._receive(message.topic, bytes(message.payload), message.mid, message.qos)

    def _receive(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        incoming = Incoming(topic, payload, mid, qos)
        self._pubacks.received(incoming)
        self.lanes[self.router(topic)].queue.put(incoming)

    def start(self) -> None:
        _tune_gc()
        for lane in self.lanes:
            lane.thread = threading.Thread(
                target=self._work, args=(lane,), name=f"sitewatch-ingest-{lane.index}", daemon=True
            )
            lane.thread.start()
        ingest_client.connect_async(
            self._client, self.broker, shared=self.share_group is not None, window=self._window
        )
        self._client.loop_start()

    def send_command(self, site: str, node: str, name: str, args: dict[str, Any]) -> bool:
        """Publish a command to one edge node; False if the broker is not reachable now."""
        command = wire.Command(site=site, node=node, name=name, args=args, ts=wire.now_ms())
        topic, payload = wire.encode(command)
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS and self.connected.is_set()

    def stop(self) -> None:
        for lane in self.lanes:
            lane.queue.put(None)
        for lane in self.lanes:
            if lane.thread is not None:
                lane.thread.join(timeout=10)
        self._client.publish(
            wire.CLOUD_STATE_TOPIC, wire.cloud_state(online=False), qos=1, retain=True
        )
        self._client.disconnect()
        self._client.loop_stop()
        if self.writer.turns is not None:
            self.writer.turns.close()

    def _work(self, lane: Lane) -> None:
        running = True
        # The first lane also runs the clocks: one place, as with a single writer.
        clocks = lane.index == 0
        while running:
            if clocks:
                self._supervise_if_due()
                self._tick_if_due()
            try:
                first = lane.queue.get(timeout=min(self.ack_interval_s / 2, TICK_EVERY_S))
            except queue.Empty:
                self._flush_acks(lane)
                continue
            batch: list[Incoming] = []
            item: Incoming | None = first
            while item is not None:
                batch.append(item)
                if len(batch) >= self._batch:
                    break
                try:
                    item = lane.queue.get_nowait()
                except queue.Empty:
                    break
            if item is None:
                running = False
            try:
                if batch:
                    self._confirm(lane, batch, self.writer.write_retrying(batch))
                self._flush_acks(lane)
            except Exception:
                # Never let a writer thread die silently while the API keeps serving.
                log.exception("ingest batch failed; its messages stay unconfirmed and come again")
                # Nor hold back the PUBACKs of every later message of the other lanes.
                self._pubacks.settle(batch, stored=False)
        self._flush_acks(lane, force=True)

    def store_batch(self, batch: list[Incoming]) -> None:
        """Store messages as received, each lane's share in turn, and confirm them: what the
        lanes do, in the caller's thread (tests, tools)."""
        for share in self.router.split(batch, lambda incoming: incoming.topic):
            lane = self.lanes[self.router(share[0].topic)]
            self._confirm(lane, share, self.writer.write(share))

    def _confirm(self, lane: Lane, batch: list[Incoming], stored: list[store.Stored]) -> None:
        """Committed: now it is safe to tell the broker and the edges."""
        ingest_client.ack_all(self._client, self._pubacks.settle(batch))
        for one in stored:
            lane.pending_acks[(one.site, one.node, one.stream)].append(one.seq)
            if one.rebirth:
                self.send_command(one.site, one.node, "rebirth", {})
        with self._count_lock:
            self.stored_count += len(batch)
        if self.on_stored is not None:
            self.on_stored()

    def _after_commit(self, changed: list[int], commands: list[EdgeCommand]) -> None:
        self._tell(changed)
        for command in commands:  # committed: now the readers may show it
            self.send_command(command.site, command.node, command.name, command.args)

    def _tell(self, changed: list[int]) -> None:
        if self.feed is not None and changed:
            self.feed.publish(changed)

    # -- the clocks --------------------------------------------------------------------------

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
            with turn(self.writer.turns), self.sessions.begin() as session:
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

    # -- confirmations -----------------------------------------------------------------------

    def _flush_acks(self, lane: Lane, force: bool = False) -> None:
        """Confirm stored positions at least every `ack_interval_s`, and sooner once a batch's
        worth is waiting: the edge holds back its backlog until its rows are confirmed, so
        waiting out the interval would cap a replay at one window of rows per interval."""
        now = time.monotonic()
        waiting = sum(len(seqs) for seqs in lane.pending_acks.values())
        # The worker's threshold, shared out: a lane holds only its share of the positions.
        early = waiting * len(self.lanes) >= ACK_EARLY
        due = force or now - lane.last_ack_flush >= self.ack_interval_s or early
        if not waiting or not due:
            return
        lane.last_ack_flush = now
        pending, lane.pending_acks = lane.pending_acks, defaultdict(list)
        for (site, node, stream), seqs in pending.items():
            ranges = wire.seq_ranges(seqs)
            for start in range(0, len(ranges), wire.MAX_ACK_RANGES):
                chunk = ranges[start : start + wire.MAX_ACK_RANGES]
                ack = wire.Ack(site=site, node=node, stream=stream, ranges=chunk, ts=wire.now_ms())
                topic, payload = wire.encode(ack)
                self._client.publish(topic, payload, qos=1)
