"""Writer lanes and writer turns: how one ingest process writes side by side, and several take turns.

Lanes: each node's messages go through one lane, so they stay in order, while lanes on
PostgreSQL write at the same time. Turns: ingest processes on one SQLite file queue for its write
lock in order, instead of polling for it.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import WriterTurns, make_engine, writer_turns
from cloud.ingest import Incoming, Ingest
from cloud.ingest_client import PubackQueue
from cloud.lanes import LaneRouter, lanes_for
from cloud.models import PointRecord, StoredMessage
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Site


def _topic(node: str, kind: str = "event") -> str:
    return f"sw/v1/harbour-view/{node}/{kind}"


def test_a_node_always_takes_the_same_lane_and_many_nodes_spread_over_all() -> None:
    router = LaneRouter(3)
    nodes = [f"pumproom-{i:02d}" for i in range(60)]
    lanes = {node: router(_topic(node)) for node in nodes}
    # Every kind of message of a node, asked again and again, and by a fresh router (another
    # process) gets the same answer: a node's messages can never overtake each other.
    for node in nodes:
        for kind in ("event", "alarm", "birth", "telemetry"):
            assert router(_topic(node, kind)) == lanes[node]
            assert LaneRouter(3)(_topic(node, kind)) == lanes[node]
    assert set(Counter(lanes.values())) == {0, 1, 2}
    assert min(Counter(lanes.values()).values()) >= 10


def test_split_keeps_each_lanes_share_in_arrival_order() -> None:
    router = LaneRouter(2)
    items = [(_topic(f"n{i % 7}"), seq) for seq, i in enumerate(range(70))]
    shares = router.split(items, lambda item: item[0])
    assert sorted(item for share in shares for item in share) == sorted(items)
    for share in shares:
        assert {router(topic) for topic, _ in share} == {router(share[0][0])}
        assert [seq for _, seq in share] == sorted(seq for _, seq in share)


def test_postgresql_gets_several_lanes_and_sqlite_one() -> None:
    assert lanes_for("postgresql") > 1
    assert lanes_for("sqlite") == 1
    with pytest.raises(ValueError):
        LaneRouter(0)


POINTS = {"pumproom": ("pumproom-leak", "zone1"), "gate": ("garage-leak", "zone1")}


def _event(node: str, seq: int) -> Incoming:
    device, point = POINTS[node]
    body = {
        "v": 1,
        "site": "harbour-view",
        "node": node,
        "stream": "1a2e000000000001",
        "seq": seq,
        "boot": 1,
        "ts": 1_000 + seq,
        "items": [
            {"type": "point", "device": device, "point": point, "value": seq % 3 == 0, "ts": seq}
        ],
    }
    return Incoming(_topic(node), json.dumps(body).encode(), mid=seq, qos=0)


def test_lanes_store_every_message_once_and_each_point_ends_at_its_last_value(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    # Three lanes whatever the database: the routing and the order are what is tested here.
    ingest = Ingest(
        {example_site.id: example_site},
        sessions,
        BrokerAddress.parse("mqtt://127.0.0.1:1"),
        lanes=3,
    )
    nodes = ("pumproom", "gate")
    assert len({ingest.router(_topic(node)) for node in nodes}) == 2, "the nodes in two lanes"
    batch = [_event(node, seq) for seq in range(1, 41) for node in nodes]
    ingest.store_batch(batch)
    with sessions() as session:
        stored = Counter(session.scalars(select(StoredMessage.node)))
        query = select(PointRecord.node, PointRecord.value).where(PointRecord.point == "zone1")
        values = {node: value for node, value in session.execute(query)}
    assert stored == {"pumproom": 40, "gate": 40}
    # seq 40 is the last: 40 % 3 != 0. Out of order within a lane, 39 (True) could have won.
    assert values == {"pumproom": False, "gate": False}
    pending = {
        node: sorted(seqs)
        for lane in ingest.lanes
        for (_, node, _), seqs in lane.pending_acks.items()
    }
    assert pending == {node: list(range(1, 41)) for node in nodes}


def test_no_turns_where_the_database_queues_writers_itself(tmp_path: Path) -> None:
    assert writer_turns(make_engine("sqlite:///:memory:")) is None
    assert writer_turns(make_engine("postgresql+psycopg://u@127.0.0.1:1/db")) is None
    turns = writer_turns(make_engine(f"sqlite:///{tmp_path / 'cloud.db'}"))
    assert isinstance(turns, WriterTurns)
    turns.close()


def _hold_a_turn(database: str, holding: object, release: object) -> None:
    turns = WriterTurns(Path(database))
    with turns.turn():
        holding.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]
    turns.close()


def test_a_writer_of_another_process_waits_for_the_turn_and_gets_it_on_release(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "cloud.db")
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    other = context.Process(target=_hold_a_turn, args=(database, holding, release))
    other.start()
    try:
        assert holding.wait(30), "the other process never got its turn"
        turns = WriterTurns(Path(database))
        got = threading.Event()

        def take() -> None:
            with turns.turn():
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(0.3), "a turn was taken while another process held it"
        release.set()
        assert got.wait(10), "the turn never came after the other process released it"
        taker.join(5)
        turns.close()
    finally:
        release.set()
        other.join(30)
    assert other.exitcode == 0


def _received(queue: PubackQueue, mids: range) -> list[Incoming]:
    messages = [Incoming(_topic("pumproom"), b"{}", mid=mid, qos=1) for mid in mids]
    for message in messages:
        queue.received(message)
    return messages


def test_pubacks_go_out_in_the_order_received_whatever_order_lanes_commit_in() -> None:
    # Mosquitto walks its in-flight list from the oldest to find a PUBACK's message: acks in
    # the order sent are found at once, acks from thousands deep cost it a walk each.
    queue = PubackQueue()
    first, second, third = (m := _received(queue, range(1, 10)))[0:3], m[3:6], m[6:9]
    assert queue.settle(second) == [], "held back behind the first three"
    assert queue.settle(third) == []
    assert queue.settle(first) == [(mid, 1) for mid in range(1, 10)]
    qos0 = Incoming(_topic("pumproom"), b"{}", mid=0, qos=0)
    queue.received(qos0)
    assert queue.settle([qos0]) == [], "QoS 0 needs no PUBACK and holds nothing back"


def test_a_batch_given_up_is_passed_over_without_a_puback_and_holds_nothing_back() -> None:
    queue = PubackQueue()
    messages = _received(queue, range(1, 5))
    assert queue.settle(messages[2:]) == []
    assert queue.settle(messages[:2], stored=False) == [(3, 1), (4, 1)]


def test_a_new_connection_forgets_the_old_ones_messages() -> None:
    queue = PubackQueue()
    old = _received(queue, range(1, 3))
    queue.reset()
    new = _received(queue, range(1, 3))  # the broker numbers a new session's messages afresh
    assert queue.settle(old) == [], "never PUBACK a new message for an old one that committed"
    assert queue.settle(new) == [(1, 1), (2, 1)]
