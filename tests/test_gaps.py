"""Gaps in a node's seqs: computed from the store, shown per node and in a summary by the API."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import gaps, store
from cloud.app import create_app
from cloud.models import StoredMessage
from sitewatch import wire
from sitewatch.siteconfig import Site
from tests.users import OPERATOR

STREAM = "0123456789abcdef"
NEW_STREAM = "fedcba9876543210"


async def get_json(api: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def summary_of(api: httpx.AsyncClient, node: str) -> dict[str, Any]:
    (row,) = [row for row in await get_json(api, "/api/gaps") if row["node"] == node]
    return row


def event(seq: int, stream: str = STREAM, node: str = "pumproom") -> wire.Event:
    return wire.Event(
        site="harbour-view",
        node=node,
        stream=stream,
        seq=seq,
        boot=1,
        ts=1,
        items=[wire.Heartbeat(ts=1)],
    )


def apply(sessions: sessionmaker[Session], site: Site, *seqs: int, **kwargs: str) -> None:
    for seq in seqs:
        with sessions.begin() as session:
            store.apply_one(session, {site.id: site}, event(seq, **kwargs))


def dead_letter(sessions: sessionmaker[Session], seq: int, node: str = "pumproom") -> None:
    """What ingest keeps of a message it rejected: the topic and the raw bytes."""
    payload = json.dumps({"v": 1, "stream": STREAM, "seq": seq, "items": "not a list"}).encode()
    with sessions.begin() as session:
        store.dead_letter(session, f"sw/v1/harbour-view/{node}/event", payload, "bad items")


def ranges(sessions: sessionmaker[Session], node: str = "pumproom") -> list[tuple]:
    with sessions() as session:
        return [
            (g.stream, g.first_missing, g.last_missing, g.count)
            for g in gaps.node_gaps(session, "harbour-view", node)
        ]


def received_at(sessions: sessionmaker[Session], seq: int, stream: str = STREAM) -> datetime:
    with sessions() as session:
        return session.scalar(
            select(StoredMessage.received_at).where(
                StoredMessage.stream == stream, StoredMessage.seq == seq
            )
        )


async def test_contiguous_seqs_have_no_gap(
    sessions: sessionmaker[Session], example_site: Site, api: httpx.AsyncClient
) -> None:
    apply(sessions, example_site, 1, 2, 3, 4, 5)
    assert ranges(sessions) == []
    assert await get_json(api, "/api/nodes/pumproom/gaps") == []
    assert await summary_of(api, "pumproom") == {
        "site": "harbour-view",
        "node": "pumproom",
        "stream": STREAM,
        "highest_seq": 5,
        "stored": 5,
        "missing": 0,
        "gaps": 0,
    }
    # A configured node that has sent nothing is listed too, with nothing stored.
    gate = await summary_of(api, "gate")
    assert (gate["stream"], gate["highest_seq"], gate["stored"]) == (None, 0, 0)


def test_a_hole_filled_by_a_late_replay_leaves_no_gap(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    # The fast lane overtakes the backlog: 1, then alarm 4, then the replay of 3 and 2.
    apply(sessions, example_site, 1, 4)
    assert ranges(sessions) == [(STREAM, 2, 3, 2)]
    apply(sessions, example_site, 3)
    assert ranges(sessions) == [(STREAM, 2, 2, 1)]
    apply(sessions, example_site, 2)
    assert ranges(sessions) == []


async def test_a_real_hole_is_reported_with_its_range_count_and_time(
    sessions: sessionmaker[Session], example_site: Site, api: httpx.AsyncClient
) -> None:
    apply(sessions, example_site, 3, 4, 8, 9, 10, 12)
    assert ranges(sessions) == [(STREAM, 1, 2, 2), (STREAM, 5, 7, 3), (STREAM, 11, 11, 1)]
    body = await get_json(api, "/api/nodes/pumproom/gaps", site="harbour-view")
    assert [(g["first_missing"], g["last_missing"], g["count"]) for g in body] == [
        (1, 2, 2),
        (5, 7, 3),
        (11, 11, 1),
    ]
    middle = body[1]
    assert (middle["site"], middle["node"], middle["stream"]) == (
        "harbour-view",
        "pumproom",
        STREAM,
    )
    # `since` is when the first stored message after the gap (seq 8) arrived.
    assert datetime.fromisoformat(middle["since"]) == received_at(sessions, 8)
    assert middle["age_s"] >= 0
    with sessions() as session:
        gap = gaps.node_gaps(session, "harbour-view", "pumproom")[1]
    assert gap.age_s(gap.since + timedelta(seconds=90)) == 90.0
    summary = await summary_of(api, "pumproom")
    assert (summary["highest_seq"], summary["stored"], summary["missing"], summary["gaps"]) == (
        12,
        6,
        6,
        3,
    )


async def test_two_streams_of_one_node_are_kept_apart(
    sessions: sessionmaker[Session], example_site: Site, api: httpx.AsyncClient
) -> None:
    # The old SD card got to 5 with 3 missing; the new card starts again at 1 and misses 2.
    apply(sessions, example_site, 1, 2, 4, 5)
    apply(sessions, example_site, 1, 3, 4, stream=NEW_STREAM)
    # Newest stream first; a seq of one stream never fills the hole of the other.
    assert ranges(sessions) == [(NEW_STREAM, 2, 2, 1), (STREAM, 3, 3, 1)]
    body = await get_json(api, "/api/nodes/pumproom/gaps")
    assert [(g["stream"], g["first_missing"]) for g in body] == [(NEW_STREAM, 2), (STREAM, 3)]
    summary = await summary_of(api, "pumproom")
    assert (summary["stream"], summary["highest_seq"], summary["stored"], summary["gaps"]) == (
        NEW_STREAM,
        4,
        3,
        1,
    )
    # Another node's seqs are not this node's either.
    apply(sessions, example_site, 2, node="gate")
    assert ranges(sessions, "gate") == [(STREAM, 1, 1, 1)]
    assert ranges(sessions) == [(NEW_STREAM, 2, 2, 1), (STREAM, 3, 3, 1)]


async def test_a_dead_lettered_position_is_not_a_gap(
    sessions: sessionmaker[Session], example_site: Site, api: httpx.AsyncClient
) -> None:
    apply(sessions, example_site, 1, 2, 4, 5, 9)
    dead_letter(sessions, 3)  # rejected and confirmed: it will never be stored
    dead_letter(sessions, 7)  # splits the 6..8 hole
    dead_letter(sessions, 6, node="gate")  # another node's dead letter hides nothing here
    with sessions.begin() as session:
        # Garbage without a position hides nothing either.
        store.dead_letter(session, "sw/v1/harbour-view/pumproom/event", b"\xff{", "not json")
    assert ranges(sessions) == [(STREAM, 6, 6, 1), (STREAM, 8, 8, 1)]
    summary = await summary_of(api, "pumproom")
    assert (summary["highest_seq"], summary["stored"], summary["missing"], summary["gaps"]) == (
        9,
        5,
        2,
        2,
    )
    # A hole made only of dead letters vanishes.
    dead_letter(sessions, 6)
    dead_letter(sessions, 8)
    assert ranges(sessions) == []
    assert await get_json(api, "/api/nodes/pumproom/gaps") == []


async def test_an_unknown_node_or_site_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/nodes/no-such-node/gaps")
    assert response.status_code == 404
    assert "no-such-node" in response.json()["detail"]
    response = await api.get("/api/nodes/pumproom/gaps", params={"site": "elsewhere"})
    assert response.status_code == 404
    assert "elsewhere" in response.json()["detail"]


async def test_a_node_name_in_two_sites_needs_the_site(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    other = dataclasses.replace(example_site, id="other-site")
    app = create_app(sessions, {example_site.id: example_site, other.id: other})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sitewatch", headers=OPERATOR
    ) as api:
        response = await api.get("/api/nodes/pumproom/gaps")
        assert response.status_code == 400
        assert "?site=" in response.json()["detail"]
        assert await get_json(api, "/api/nodes/pumproom/gaps", site="other-site") == []


def test_gaps_match_a_plain_reference_on_random_arrivals(sessions: sessionmaker[Session]) -> None:
    rng = random.Random(4)
    stored = rng.sample(range(1, 301), 220)  # a random subset, in a random arrival order
    with sessions.begin() as session:
        for seq in stored:
            session.add(
                StoredMessage(
                    site="harbour-view",
                    node="pumproom",
                    stream=STREAM,
                    seq=seq,
                    boot=1,
                    kind="event",
                    source_ts=1,
                    payload={},
                )
            )
    present, expected = set(stored), []
    for seq in range(1, max(stored) + 1):
        if seq in present:
            continue
        if expected and expected[-1][1] == seq - 1:
            expected[-1] = (expected[-1][0], seq)
        else:
            expected.append((seq, seq))
    assert [(first, last) for _, first, last, _ in ranges(sessions)] == expected


async def test_the_gap_endpoints_are_documented(api: httpx.AsyncClient) -> None:
    paths = (await get_json(api, "/openapi.json"))["paths"]
    assert paths["/api/nodes/{node}/gaps"]["get"]["summary"]
    assert paths["/api/gaps"]["get"]["summary"]
