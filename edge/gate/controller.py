"""The gate controller of one node: a card read at a lane → a local decision → the barrier relay →
a GatePass event through the outbox; and the operator's `gate_open` command.

Nothing between the read and the relay command waits for the network: the card list and the
anti-passback presence are in memory (edge/gate/book.py), the relay is on the node's own bus, and
the event is committed to the outbox after the relay has been commanded. Online or offline, a
read takes the same path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError

from edge.gate.book import CardBook
from edge.gate.commands import GateOpenArgs, parse_gate_open
from edge.gate.decide import Decision, Direction, Presence, decide
from edge.gate.relay import RelayPulser
from edge.poller import DevicePoller
from sitewatch import wire
from sitewatch.siteconfig import ReaderConfig, Site

log = logging.getLogger(__name__)

# Families whose reader can show ok/wrong (a light, a beep); RDM6300 and Wiegand converters cannot.
FEEDBACK_FAMILIES = frozenset({"line", "pn532"})
LATENCY_WINDOW = 10_000

Publish = Callable[[wire.GatePass], None]
Feedback = Callable[[str, bool], Awaitable[bool]]


class GateController:
    """Decides the reads of this node's gate readers and drives their lanes' relays."""

    def __init__(
        self,
        site: Site,
        node_id: str,
        book: CardBook,
        pollers: Mapping[str, DevicePoller],
        publish: Publish,
        feedback: Feedback | None = None,
        clock: Callable[[], int] = wire.now_ms,
    ) -> None:
        self.site = site
        self.book = book
        self.publish = publish
        self.feedback = feedback
        self.clock = clock
        self.lanes = site.parking.lanes_of(node_id)
        self.readers: dict[str, ReaderConfig] = {
            reader_id: config
            for reader_id, config in site.nodes[node_id].readers.items()
            if config.role == "gate" and config.lane in self.lanes
        }
        self.relays = {
            lane_id: RelayPulser(lane_id, lane.relay, pollers[lane.relay.device])
            for lane_id, lane in self.lanes.items()
        }
        # read → relay command written (allowed) or → decision (denied), in ms: for metrics and
        # the bench, which read it back.
        self.latencies_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.decided = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def handles(self, reader_id: str) -> bool:
        return reader_id in self.readers

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gate task failed", exc_info=task.exception())

    # -- card reads ------------------------------------------------------------------------------

    def read(self, reader_id: str, card: str) -> asyncio.Task[wire.GatePass | None]:
        """A card was read at `reader_id` (a gate reader of this node). The clock starts here;
        the decision, the relay and the event follow in a task, which is returned."""
        started = time.perf_counter()
        return self._spawn(self._decide_read(reader_id, card, started, self.clock()))

    async def _decide_read(
        self, reader_id: str, card: str, started: float, ts: int
    ) -> wire.GatePass | None:
        config = self.readers[reader_id]
        lane = config.lane
        direction: Direction = config.direction  # type: ignore[assignment]
        assert lane is not None  # gate readers have a lane (ReaderConfig checks it)
        entry = self.book.lookup(card)
        decision = decide(
            entry, lane, direction, self.site.parking.rule(lane), self.book.presence.get(card), ts
        )
        confirmed: bool | None = None
        if decision.allowed:
            # Before any await: a second read of the same card must see this pass.
            self.book.record(card, Presence(direction, lane, ts))
            confirmed = await self.relays[lane].pulse()
        decide_ms = (time.perf_counter() - started) * 1000
        self.latencies_ms.append(decide_ms)
        self.decided += 1
        self._log(reader_id, card, lane, decision)
        gate_pass = self._emit(
            lane=lane,
            direction=direction,
            reader=reader_id,
            card=card,
            card_type=entry.type if entry is not None else None,
            allowed=decision.allowed,
            reason=decision.reason,
            violation=decision.violation,
            decide_ms=round(decide_ms, 3),
            relay_confirmed=confirmed,
            ts=ts,
        )
        if self.feedback is not None and config.family in FEEDBACK_FAMILIES:
            await self.feedback(reader_id, decision.allowed)
        return gate_pass

    @staticmethod
    def _log(reader_id: str, card: str, lane: str, decision: Decision) -> None:
        if decision.reason is wire.GateReason.EMERGENCY:
            log.warning("emergency card %s let through at %s (%s)", card, lane, reader_id)
        elif decision.violation:
            log.warning("anti-passback violation by card %s at %s, let through", card, lane)
        else:
            log.info(
                "card %s at %s: %s (%s)",
                card,
                lane,
                "allowed" if decision.allowed else "denied",
                decision.reason.value,
            )

    def _emit(self, **fields: Any) -> wire.GatePass | None:
        try:
            gate_pass = wire.GatePass(list_version=self.book.version, **fields)
        except ValidationError as exc:
            # A read the contract cannot carry (e.g. a card id with odd characters) is logged;
            # the decision has been made and acted on already.
            log.error("gate pass not publishable: %s", wire.describe_validation_error(exc))
            return None
        self.publish(gate_pass)
        return gate_pass

    # -- operator opening ------------------------------------------------------------------------

    def command_open(self, args: dict[str, Any]) -> asyncio.Task[wire.GatePass | None] | None:
        """The `gate_open` command; bad arguments are logged and refused, never raised."""
        parsed = parse_gate_open(args, self.lanes, self.readers)
        if isinstance(parsed, str):
            log.warning("gate_open refused: %s (args %s)", parsed, args)
            return None
        return self._spawn(self.open(parsed))

    async def open(self, args: GateOpenArgs) -> wire.GatePass | None:
        """Open `args.lane` for the operator and record who did and why."""
        started = time.perf_counter()
        ts = self.clock()
        if args.card is not None:
            self.book.record(args.card, Presence(args.direction, args.lane, ts))
        confirmed = await self.relays[args.lane].pulse()
        decide_ms = (time.perf_counter() - started) * 1000
        entry = self.book.lookup(args.card) if args.card is not None else None
        reason = wire.GateReason.REGISTERED if args.registered else wire.GateReason.OVERRIDE
        log.warning(
            "lane %s opened by %s (%s): %s", args.lane, args.by, reason.value, args.reason or "-"
        )
        return self._emit(
            lane=args.lane,
            direction=args.direction,
            card=args.card,
            card_type=entry.type if entry is not None else None,
            allowed=True,
            reason=reason,
            decide_ms=round(decide_ms, 3),
            relay_confirmed=confirmed,
            by=args.by,
            note=args.reason,
            ts=ts,
        )

    # -- lifetime --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Held by the agent for its lifetime; on the way out, no relay is left held."""
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for relay in self.relays.values():
                await relay.stop()
