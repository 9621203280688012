"""The edge agent for one node: builds pollers from the site file and feeds their reports to MQTT.

Fire-category point changes go out on the `alarm` kind (the fast lane); everything else as `event`.
A node with parking lanes also runs a gate controller (edge/gate/): its gate readers' reads are
decided locally and published as gate passes, and it keeps the card list the cloud publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from drivers.modbus import BusSettings, ModbusBus
from edge.gate.book import CardBook
from edge.gate.controller import GateController
from edge.link import EdgeLink
from edge.metrics import serve_metrics
from edge.outbox import Outbox
from edge.poller import DevicePoller
from edge.readers import ReaderService
from sitewatch import __version__, wire
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Category, RtuBus, Site, TcpBus

log = logging.getLogger(__name__)


def bus_settings(bus: TcpBus | RtuBus) -> BusSettings:
    if isinstance(bus, TcpBus):
        return BusSettings("tcp", host=bus.host, port=bus.port, timeout_s=bus.timeout_s)
    return BusSettings(
        "rtu",
        serial_port=bus.device,
        baudrate=bus.baudrate,
        parity=bus.parity,
        stopbits=bus.stopbits,
        timeout_s=bus.timeout_s,
    )


class EdgeAgent:
    """Runs one node: its buses, one poller per device, the outbox and the MQTT link."""

    def __init__(
        self,
        site: Site,
        node_id: str,
        broker: BrokerAddress,
        state_dir: Path,
        confirm_timeout_s: float = 30.0,
        outbox_budget_bytes: int | None = None,
        metrics: tuple[str, int] | None = None,
        max_rate: float = 5000.0,
    ) -> None:
        """`metrics`: (host, port) to serve Prometheus /metrics on; port 0 picks a free one."""
        self.site = site
        self.node = site.nodes[node_id]
        self.broker = broker
        self.outbox = Outbox(
            state_dir / f"{site.id}-{node_id}.outbox.db", budget_bytes=outbox_budget_bytes
        )
        self.buses = {
            bus_id: ModbusBus(bus_settings(bus)) for bus_id, bus in self.node.buses.items()
        }
        self.pollers = {
            device.id: DevicePoller(device, self.buses[device.bus], self.node.scan, self._report)
            for device in self.node.devices.values()
        }
        self.readers = ReaderService(self.node.readers, self._tapped)
        # A node with parking lanes decides its gate reads itself, from its own copy of the list.
        self.gate: GateController | None = None
        if site.parking.lanes_of(node_id):
            book = CardBook(state_dir / f"{site.id}-{node_id}.cards.db")
            self.gate = GateController(
                site, node_id, book, self.pollers, self._gate_pass, self.readers.feedback
            )
        self.metrics_address = metrics
        self.metrics_port: int | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.link = EdgeLink(
            site.id,
            node_id,
            broker,
            self.outbox,
            on_connected=self._send_birth,
            on_command=self._command,
            confirm_timeout_s=confirm_timeout_s,
            max_rate=max_rate,
            on_cards=self._cards if self.gate is not None else None,
        )

    def _envelope(self, seq: int) -> dict:
        return {
            "site": self.site.id,
            "node": self.node.id,
            "stream": self.outbox.stream,
            "seq": seq,
            "boot": self.link.boot,
            "ts": wire.now_ms(),
        }

    def _add(self, kind: wire.Kind, build: type[wire.Envelope], **body: object) -> None:
        self.outbox.add(
            kind.value, lambda seq: wire.encode(build(**self._envelope(seq), **body))[1]
        )
        self.link.wake()

    def _report(self, device_id: str, items: list[wire.PointValue | wire.DeviceStatus]) -> None:
        device = self.node.devices[device_id]
        fire, other = [], []
        for item in items:
            spec = device.points.get(item.point) if isinstance(item, wire.PointValue) else None
            is_fire = (
                spec is not None and spec.alarm is not None and spec.alarm.category is Category.FIRE
            )
            (fire if is_fire else other).append(item)
        if fire:
            self._add(wire.Kind.ALARM, wire.Alarm, items=fire)
        if other:
            self._add(wire.Kind.EVENT, wire.Event, items=other)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.node.heartbeat_s)
            beat = wire.Heartbeat(
                ts=wire.now_ms(),
                clock_offset_ms=self.link.clock_offset_ms,
                outbox=self.outbox.counts(),
                disk_over_budget=self.outbox.over_budget,
                # 0: a gate node that has no card list yet (it denies every card).
                cards_version=(self.gate.book.version or 0) if self.gate is not None else None,
            )
            self._add(wire.Kind.EVENT, wire.Event, items=[beat])

    async def _telemetry(self) -> None:
        """Sample every analog point for trends and charts, batched into one message."""
        while True:
            await asyncio.sleep(self.node.telemetry_s)
            samples = [
                value
                for poller in self.pollers.values()
                for value in poller.snapshot()
                if value.quality is wire.Quality.GOOD
                and poller.device.points[value.point].is_analog
            ]
            if samples:
                self._add(wire.Kind.TELEMETRY, wire.Telemetry, samples=samples)

    def _tapped(self, tap: wire.CardTap) -> None:
        if self.gate is not None and self.gate.handles(tap.reader):
            self.gate.read(tap.reader, tap.card)  # its GatePass carries the card
            return
        self._add(wire.Kind.EVENT, wire.Event, items=[tap])

    def _gate_pass(self, gate_pass: wire.GatePass) -> None:
        self._add(wire.Kind.EVENT, wire.Event, items=[gate_pass])

    def _cards(self, cards: wire.CardList) -> None:
        self._spawn(self._load_cards(cards))

    async def _load_cards(self, cards: wire.CardList) -> None:
        assert self.gate is not None  # only gate nodes subscribe to their card list
        try:
            loaded = await self.gate.book.load(cards)
        except Exception:
            # The gate keeps deciding from the list it has; the cloud sees the old version in
            # the heartbeats, and the retained list is tried again on the next connect.
            log.exception("card list version %d could not be stored", cards.version)
            return
        if loaded:
            log.info("card list version %d loaded: %d cards", cards.version, len(cards.cards))
            loaded = wire.CardListLoaded(
                version=cards.version, count=len(cards.cards), ts=wire.now_ms()
            )
            self._add(wire.Kind.EVENT, wire.Event, items=[loaded])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _send_birth(self, boot: int) -> None:
        points = [value for poller in self.pollers.values() for value in poller.snapshot()]
        devices = [poller.status() for poller in self.pollers.values() if poller.online is not None]
        self._add(
            wire.Kind.BIRTH,
            wire.Birth,
            software=__version__,
            config_hash=self.site.config_hash,
            points=points,
            devices=devices,
        )

    def _command(self, command: wire.Command) -> None:
        if command.name == "rebirth":
            self._send_birth(self.link.boot)
        elif command.name == "feedback":
            reader, ok = command.args.get("reader"), command.args.get("ok")
            if not isinstance(reader, str) or not isinstance(ok, bool):
                log.warning(
                    "feedback command needs reader (text) and ok (true/false): %s", command.args
                )
                return
            self._spawn(self._feedback(reader, ok))
        elif command.name == "gate_open":
            if self.gate is None:
                log.warning("gate_open for node %s, which has no parking lanes", self.node.id)
                return
            self.gate.command_open(command.args)
        else:
            log.warning("unknown command %r", command.name)

    async def _feedback(self, reader: str, ok: bool) -> None:
        await self.readers.feedback(reader, ok)

    async def run(self) -> None:
        log.info(
            "edge %s/%s: %d devices on %d buses, broker %s",
            self.site.id,
            self.node.id,
            len(self.pollers),
            len(self.buses),
            self.broker,
        )
        metrics_server = None
        if self.metrics_address is not None:
            metrics_server = serve_metrics(self, *self.metrics_address)
            self.metrics_port = metrics_server.server_port
            log.info("metrics on http://%s:%d/metrics", self.metrics_address[0], self.metrics_port)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.link.run())
                group.create_task(self._heartbeats())
                if self.pollers:
                    group.create_task(self._telemetry())
                if self.node.readers:
                    group.create_task(self.readers.run())
                if self.gate is not None:
                    group.create_task(self.gate.run())
                for poller in self.pollers.values():
                    group.create_task(poller.run())
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            for bus in self.buses.values():
                bus.close()
            if self.gate is not None:
                self.gate.book.close()
            self.outbox.close()
