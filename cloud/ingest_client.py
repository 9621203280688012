"""The ingest worker's paho client, made cheap per message: buffered reads, PUBACKs in bulk.

At thousands of messages a second the paho network thread competes with the database writer
for the GIL. Stock paho reads a packet with three or four `recv` calls (its first byte, each byte
of its length, its body) and writes every PUBACK as a packet of its own with a wake-up byte to
its socket pair: every one of those system calls releases the GIL, and getting it back waits on
the writer thread. This client reads the socket in large chunks, takes the whole PUBLISH packets
of a chunk in one pass (paho's per-byte reading cost more CPU than storing the message), hands
each to a plain callback, and sends the PUBACKs of a committed batch as one write.

All three reach into paho's private packet layer (`_sock_recv`, `_packet_read`,
`_handle_publish`, `_in_packet`, `_packet_queue`, `_sock_close`), stable across paho 2.x;
`IngestClient.supported()` says whether the installed paho still has them, and ingest uses a
stock client if not.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sitewatch.broker import BrokerAddress

RECV_CHUNK = 256 * 1024  # bytes read from the socket at once
_PUBACK = struct.Struct("!BBH")
_PUBACK_COMMAND = 0x40
_PUBLISH_COMMAND = 0x30
_MID = struct.Struct("!H")


def _variable_int(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """The MQTT variable byte integer at `at`, and where it ends. IndexError if it runs past
    the data, ValueError if it is longer than the four bytes MQTT allows."""
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 21:
            raise ValueError("a variable byte integer longer than four bytes")


# topic, payload, message id, QoS: what ingest needs of a PUBLISH
Receiver = Callable[[str, bytes, int, int], None]


class IngestClient(mqtt.Client):
    """A paho client that reads in chunks and acknowledges QoS 1 messages in bulk."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._rbuf = b""
        self._rpos = 0
        self.receiver: Receiver | None = None

    @staticmethod
    def supported() -> bool:
        return all(
            hasattr(mqtt.Client, name)
            for name in (
                "_sock_recv",
                "_packet_read",
                "_packet_queue",
                "_sock_close",
                "_handle_publish",
            )
        )

    # -- reading ---------------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        # paho asks for a byte or a body at a time; serve those from one large read.
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(RECV_CHUNK)  # raises BlockingIOError when nothing is there
            if not data:
                return data  # the broker closed the connection
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start : self._rpos]

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        # Stock paho handles one packet per select(); what one read brought in is all handled
        # now, or select() would not wake up for it. This ends: the buffer only refills when
        # it is empty, and the broker sends no more than the in-flight window (Receive Maximum,
        # or Mosquitto's max_inflight_messages) before our PUBACKs, which paho writes after this.
        rc = super().loop_read(max_packets)
        while (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._sock is not None
            and self._rpos < len(self._rbuf)
        ):
            rc = super().loop_read(max_packets)
        return rc

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        # paho reads a packet in three or four steps (its first byte, each byte of its length,
        # its body), each a call with its own bookkeeping: more CPU than storing the message.
        # Whole QoS 0/1 PUBLISH packets already in the buffer are taken here in one pass;
        # whatever else comes (another packet, one split across reads, the one that begins a
        # read) is left to paho.
        if self._in_packet["command"] == 0 and self.receiver is not None and self._manual_ack:
            self._take_publishes()
        return super()._packet_read()

    def _take_publishes(self) -> None:
        buf, pos, end = self._rbuf, self._rpos, len(self._rbuf)
        receiver, taken = self.receiver, False
        assert receiver is not None
        while pos < end:
            header = buf[pos]
            qos = (header & 0x06) >> 1
            if header & 0xF0 != _PUBLISH_COMMAND or qos > 1:
                break
            try:
                length, at = _variable_int(buf, pos + 1)
            except (IndexError, ValueError):
                break  # the length runs past the buffer, or is malformed: paho's
            if at + length > end or length < 2:
                break
            packet = buf[at : at + length]
            try:
                topic, mid, start = self._publish_header(packet, qos)
            except (IndexError, ValueError, struct.error):
                break  # paho reports it as it always does
            if not topic:
                break  # a topic alias: paho's
            pos = self._rpos = at + length
            taken = True
            receiver(topic, packet[start:], mid, qos)
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        # paho builds an MQTTMessage, its MQTT 5 Properties and a debug line for every PUBLISH,
        # then matches the topic against per-topic callbacks (ingest has none): together more
        # than the database write of the message. A QoS 0/1 PUBLISH in manual-ack mode goes
        # straight to `receiver`; anything unusual takes paho's own path.
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if self.receiver is None or qos > 1 or not self._manual_ack or len(packet) < 2:
            return super()._handle_publish()
        try:
            topic, mid, pos = self._publish_header(packet, qos)
        except (IndexError, ValueError, struct.error):  # ValueError: also bad UTF-8
            return super()._handle_publish()  # paho reports it as it always does
        if not topic:
            return super()._handle_publish()
        self.receiver(topic, bytes(packet[pos:]), mid, qos)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _publish_header(self, packet: bytes | bytearray, qos: int) -> tuple[str, int, int]:
        """The topic, the message id and where the payload starts."""
        (length,) = _MID.unpack_from(packet, 0)
        pos = 2 + length
        if pos > len(packet):
            raise IndexError("topic runs past the packet")
        topic = bytes(packet[2:pos]).decode("utf-8")
        mid = 0
        if qos:
            (mid,) = _MID.unpack_from(packet, pos)
            pos += 2
        if self._protocol == mqtt.MQTTv5:
            properties, pos = _variable_int(packet, pos)  # their length; they are skipped
            pos += properties
            if pos > len(packet):
                raise IndexError("properties run past the packet")
        return topic, mid, pos

    def _sock_close(self) -> None:
        # Bytes of a closed connection must never be parsed as the start of the next one.
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    # -- acknowledging ---------------------------------------------------------------------

    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK these QoS 1 message ids (manual ack mode) in one queued write."""
        packet = b"".join(_PUBACK.pack(_PUBACK_COMMAND, 2, mid) for mid in mids)
        if packet:
            # A PUBACK has no reason code here, which MQTT 5 reads as success.
            self._packet_queue(_PUBACK_COMMAND, packet, 0, 0)


def make_client(client_id: str, shared: bool) -> mqtt.Client:
    """The ingest client: an `IngestClient` if this paho has what it needs, else paho's own."""
    kind = IngestClient if IngestClient.supported() else mqtt.Client
    if not shared:
        # One worker: 3.1.1 with a clean session, which every broker we meet speaks (amqtt
        # has no MQTT 5).
        return kind(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
            manual_ack=True,
        )
    # Several workers share the load through an MQTT 5 shared subscription, each with a clean
    # start: a persistent member that is offline would keep its share of messages.
    return kind(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )


def connect_async(client: mqtt.Client, broker: BrokerAddress, shared: bool, window: int) -> None:
    """Connect in the background, as `make_client` made the client."""
    if not shared:
        client.connect_async(broker.host, broker.port, keepalive=15)
        return
    # Receive Maximum: the broker sends no more unacked messages than `window`, so a worker
    # that falls behind holds a bounded backlog instead of buffering without limit.
    limits = Properties(PacketTypes.CONNECT)
    limits.ReceiveMaximum = window
    client.connect_async(
        broker.host, broker.port, keepalive=15, clean_start=True, properties=limits
    )


class Received(Protocol):
    """What the PUBACK queue needs of a received message."""

    mid: int
    qos: int
    settled: bool  # its transaction committed, or storing it was given up
    stored: bool  # committed: it may be PUBACKed


class PubackQueue:
    """PUBACKs in the order the broker sent the messages, whatever order they commit in.

    Mosquitto finds the message a PUBACK is for by walking its in-flight list from the oldest.
    Writer lanes commit out of order, and acking each lane's batch at once sent PUBACKs for
    messages thousands deep in that list: in the benchmark the broker then used as much CPU as
    the ingest worker, and more the further the worker fell behind. Here a PUBACK waits until
    everything the broker sent before it has committed, so each one is for its oldest message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order: deque[Received] = deque()

    def received(self, message: Received) -> None:
        """Called in arrival order (the network thread); QoS 0 needs no PUBACK."""
        if message.qos:
            self._order.append(message)

    def reset(self) -> None:
        """A new connection: the old one's messages are no longer the broker's to hear about."""
        with self._lock:
            self._order.clear()

    def settle(self, messages: Iterable[Received], stored: bool = True) -> list[tuple[int, int]]:
        """Mark these settled; return (message id, QoS) of every message now ready, in order.
        Messages not `stored` are passed over without a PUBACK: the broker keeps them in flight
        until the connection ends, and their edges send them again."""
        with self._lock:
            for message in messages:
                message.settled, message.stored = True, stored
            ready = []
            order = self._order
            while order and order[0].settled:
                message = order.popleft()
                if message.stored:
                    ready.append((message.mid, message.qos))
            return ready


def ack_all(client: mqtt.Client, messages: Iterable[tuple[int, int]]) -> None:
    """Acknowledge received messages, given as (message id, QoS), to the broker."""
    bulk: list[int] = []
    one_by_one: list[tuple[int, int]] = []
    for mid, qos in messages:
        if qos == 1 and isinstance(client, IngestClient):
            bulk.append(mid)
        elif qos > 0:
            one_by_one.append((mid, qos))
    if bulk:
        client.ack_many(bulk)  # type: ignore[attr-defined]
    for mid, qos in one_by_one:
        client.ack(mid, qos)
