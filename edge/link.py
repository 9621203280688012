"""The edge's MQTT link: publishes outbox rows over paho (QoS 1), takes cloud acks and commands.

The will is the node's `death`, re-armed with a fresh `boot` before every connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge.outbox import Outbox
from sitewatch import wire
from sitewatch.broker import BrokerAddress, configure_tls

log = logging.getLogger(__name__)

# Paho's own queue stays small: the backlog lives on disk in the outbox.
PUBLISH_WINDOW = 50
EARLY_PUBACK_TTL_S = 2.0


class EdgeLink:
    """Moves rows from the outbox to the broker and confirmations from the cloud back."""

    def __init__(
        self,
        site: str,
        node: str,
        broker: BrokerAddress,
        outbox: Outbox,
        on_connected: Callable[[int], None],
        on_command: Callable[[wire.Command], None],
        confirm_timeout_s: float = 30.0,
        max_rate: float = 5000.0,
        max_unconfirmed: int = 2000,
        on_cards: Callable[[wire.CardList], None] | None = None,
    ) -> None:
        self.site = site
        # A gate node's card list: subscribed only when someone takes it (see _connected).
        self._on_cards = on_cards
        self.max_unconfirmed = max_unconfirmed
        self.max_rate = max_rate
        self._tokens = max_rate
        self._refilled = time.monotonic()
        self._refill_scheduled = False
        self.node = node
        self.broker = broker
        self.outbox = outbox
        self.confirm_timeout_s = confirm_timeout_s
        self._on_connected = on_connected
        self._on_command = on_command
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._early_pubacks: dict[int, float] = {}  # paho mid -> when its PUBACK came
        self._acked: list[int] = []  # seqs PUBACKed, to be marked handed over by the pump
        self._cloud_session: int | None = None  # `ts` of the cloud's last online state
        self._wake_pending = False
        self._topics: dict[str, str] = {}
        self._lock = threading.RLock()
        self.connected = False
        self.boot = 0
        self.last_confirmed_ms: int | None = None
        self.clock_offset_ms: int | None = None
        self.published_count = 0
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"sw-edge-{site}-{node}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        configure_tls(self._client, broker)
        self._client.max_inflight_messages_set(PUBLISH_WINDOW)
        # A short cap: after an outage the backlog and any fire alarm must move as soon as the
        # broker is back, not at the end of a long backoff.
        self._client.reconnect_delay_set(1, 5)
        self._client.on_pre_connect = self._arm_will
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_publish = self._published
        self._client.on_message = self._message

    # -- paho network thread -------------------------------------------------------------

    def _arm_will(self, client: mqtt.Client, userdata: Any) -> None:
        self.boot = self.outbox.next_boot()
        death = wire.Death(
            site=self.site,
            node=self.node,
            stream=self.outbox.stream,
            boot=self.boot,
            ts=wire.now_ms(),
        )
        topic, payload = wire.encode(death)
        client.will_set(topic, payload, qos=1, retain=False)

    def _connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.broker, reason)
            return
        base = wire.Topic(self.site, self.node, wire.Kind.ACK)
        client.subscribe(
            [
                (str(base), 1),
                (wire.Topic.commands_filter(self.site, self.node), 1),
                (wire.CLOUD_STATE_TOPIC, 1),
            ]
        )
        if self._on_cards is not None:
            # Retained: the broker hands over the current list on every (re)subscribe.
            client.subscribe(str(wire.Topic(self.site, self.node, wire.Kind.CARDS)), 1)
        with self._lock:
            self._inflight.clear()
            self._early_pubacks.clear()
            self.connected = True
        log.info("connected to %s as boot %d", self.broker, self.boot)
        self._call(self._on_connected, self.boot)
        if not flags.session_present:
            # The broker holds nothing of ours (restarted without persistence, or never met
            # us): rows it took before may be lost with it. Sent again now, not after the
            # confirmation timeout; the cloud drops the ones it has.
            log.info("the broker has no session of this node")
            self._call(self._resend_unconfirmed)
        self._call(self._wake.set)

    def _cloud_state(self, state: wire.CloudState | None) -> None:
        """A cloud session that came up after ours may have missed rows we handed over: the
        broker drops what arrives while no cloud is subscribed (after a restart without
        persistence the edge often reconnects first). Sent again now, once per cloud session
        (the retained state comes again with every connect)."""
        if state is None or not state.online or state.ts == self._cloud_session:
            return
        self._cloud_session = state.ts
        self._call(self._resend_unconfirmed)

    def _resend_unconfirmed(self) -> None:
        resent = self.outbox.requeue_unconfirmed(0)
        if resent:
            log.info("sending %d unconfirmed rows again", resent)

    def _disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self.connected = False
            self._inflight.clear()
        if reason.is_failure:
            log.warning("disconnected from %s: %s", self.broker, reason)

    def _published(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                # The PUBACK beat publish() returning its mid to the pump; it settles it there.
                self._early_pubacks[mid] = time.monotonic()
            else:
                # Marked by the pump in one statement per burst: one write per PUBACK in this
                # thread would cap the publish rate.
                self._acked.append(seq)
        self._wake_soon()

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # An exception escaping a paho callback kills paho's network thread, and with it the
        # node's link: nothing a message says may get that far.
        try:
            self._handle(message)
        except Exception:
            log.exception("failed to handle the message on %s", message.topic)

    def _handle(self, message: mqtt.MQTTMessage) -> None:
        if message.topic == wire.CLOUD_STATE_TOPIC:
            self._cloud_state(wire.read_cloud_state(message.payload))
            return
        try:
            decoded = wire.decode(message.topic, message.payload)
        except wire.WireError as exc:
            log.warning("ignoring bad message on %s: %s", message.topic, exc)
            return
        if isinstance(decoded, wire.Ack):
            if decoded.stream == self.outbox.stream:
                self.outbox.confirm(decoded.ranges)
                self.last_confirmed_ms = wire.now_ms()
                self._call(self._wake.set)  # room in the confirmation window again
                if decoded.ts is not None:
                    # Acks go out at once after a commit: the transit time is small next to the
                    # 5 s the clock may be off (GA/T 1742).
                    self.clock_offset_ms = decoded.ts - self.last_confirmed_ms
        elif isinstance(decoded, wire.Command):
            self._call(self._on_command, decoded)
        elif isinstance(decoded, wire.CardList) and self._on_cards is not None:
            self._call(self._on_cards, decoded)

    def _wake_soon(self) -> None:
        """One wake-up of the pump per burst of PUBACKs, not one per PUBACK."""
        if not self._wake_pending:
            self._wake_pending = True
            self._call(self._woken)

    def _woken(self) -> None:
        self._wake_pending = False  # before set(): a PUBACK from now on schedules another
        self._wake.set()

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(func, *args)

    # -- agent event loop ----------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Connect (retrying in the background) and pump the outbox until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()
        try:
            await self._pump()
        finally:
            await self._say_goodbye()
            self._client.disconnect()
            self._client.loop_stop()

    async def _say_goodbye(self) -> None:
        """An orderly DISCONNECT makes the broker drop the will, so send the death ourselves:
        the control room must see the node go, however it went."""
        if not self.connected:
            return
        death = wire.Death(
            site=self.site,
            node=self.node,
            stream=self.outbox.stream,
            boot=self.boot,
            ts=wire.now_ms(),
        )
        topic, payload = wire.encode(death)
        info = self._client.publish(topic, payload, qos=1)
        # In a thread: the broker may run in this very event loop (the demo's embedded one), and
        # blocking the loop would keep it from ever answering.
        with contextlib.suppress(Exception):
            await asyncio.to_thread(info.wait_for_publish, 2)

    async def _pump(self) -> None:
        requeue_every = max(1.0, self.confirm_timeout_s / 4)
        loop = asyncio.get_running_loop()
        next_requeue = loop.time() + requeue_every
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives together with the wake-up, and the agent would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(requeue_every):
                    await self._wake.wait()
            self._wake.clear()
            if loop.time() >= next_requeue:
                self.outbox.requeue_unconfirmed(self.confirm_timeout_s)
                next_requeue = loop.time() + requeue_every
            self._publish_some()

    def _topic(self, kind: str) -> str:
        topic = self._topics.get(kind)
        if topic is None:
            topic = self._topics[kind] = str(wire.Topic(self.site, self.node, wire.Kind(kind)))
        return topic

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.max_rate, self._tokens + (now - self._refilled) * self.max_rate)
        self._refilled = now

    def _wake_when_refilled(self) -> None:
        if self._loop is not None and not self._refill_scheduled:
            self._refill_scheduled = True
            self._loop.call_later(max(1 / self.max_rate, 0.005), self._refilled_wake)

    def _refilled_wake(self) -> None:
        self._refill_scheduled = False
        self._wake.set()

    def _publish_some(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        if acked:
            self.outbox.mark_handed_over(*acked)
        # Never hold our lock while calling into paho: paho holds its own lock while it calls
        # _published, and taking both in opposite orders deadlocks.
        with self._lock:
            if not self.connected:
                return
            # PUBACKs of messages paho re-sent by itself after a reconnect are never claimed;
            # forget them before their message ids come round again.
            stale = time.monotonic() - EARLY_PUBACK_TTL_S
            for mid in [m for m, at in self._early_pubacks.items() if at < stale]:
                del self._early_pubacks[mid]
            room = PUBLISH_WINDOW - len(self._inflight)
            # PUBACKed since the marking above: not in flight, and not marked yet either.
            busy = set(self._inflight.values()).union(self._acked)
            # End-to-end flow control: no more than max_unconfirmed rows may wait for the
            # cloud's confirmation, so a slow cloud is not buried and the broker's queue stays
            # short (fire alarms are exempt).
            backlog_room = self.max_unconfirmed - self.outbox.handed_over - len(busy)
        if room <= 0:
            return
        self._refill()
        for row in self.outbox.unsent(room, exclude=busy):
            if row.kind != wire.Kind.ALARM.value:
                if backlog_room <= 0:
                    break
                backlog_room -= 1
                # Fire alarms are never held back; everything else spends a token, so a long
                # replay cannot flood the broker and the cloud ahead of live traffic.
                if self._tokens < 1:
                    self._wake_when_refilled()
                    break
                self._tokens -= 1
            info = self._client.publish(self._topic(row.kind), row.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            self.published_count += 1
            with self._lock:
                acked_early = self._early_pubacks.pop(info.mid, None) is not None
                if not acked_early:
                    self._inflight[info.mid] = row.seq
                if acked_early:
                    self.outbox.mark_handed_over(row.seq)
