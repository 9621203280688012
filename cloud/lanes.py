"""Writer lanes: every node's messages go through one lane, in order, and lanes write side by side.

On PostgreSQL a writer spends about a third of its time waiting for the server (statements and
the commit). Two lanes, each a thread with its own connection and its own share of the nodes,
overlap one lane's wait with the other's Python work, and never wait for each other's node rows.
SQLite has one write lock for the whole database, so it gets one lane.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

LANES_BY_DIALECT = {"postgresql": 3}
_CACHE_LIMIT = 10_000  # topics remembered; a site has a few per node


def lanes_for(dialect: str) -> int:
    return LANES_BY_DIALECT.get(dialect, 1)


def node_of(topic: str) -> str:
    """`site/node` of a topic `sw/v1/{site}/{node}/...` (anything else: the topic itself)."""
    return "/".join(topic.split("/", 4)[2:4])


class LaneRouter:
    """The lane of a topic's node: always the same lane for a node, whatever else is running.

    Called from the MQTT network thread for every message, so the answer is remembered per
    topic; a flood of made-up topics only empties the memory, it does not grow it.
    """

    def __init__(self, lanes: int) -> None:
        if lanes < 1:
            raise ValueError("at least one lane")
        self.lanes = lanes
        self._known: dict[str, int] = {}

    def __call__(self, topic: str) -> int:
        lane = self._known.get(topic)
        if lane is None:
            lane = zlib.crc32(node_of(topic).encode()) % self.lanes if self.lanes > 1 else 0
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            self._known[topic] = lane
        return lane

    def split(self, items: list[T], topic: Callable[[T], str]) -> list[list[T]]:
        """`items` by lane, in order within each; empty lanes left out."""
        if self.lanes == 1:
            return [items] if items else []
        shares: list[list[T]] = [[] for _ in range(self.lanes)]
        for item in items:
            shares[self(topic(item))].append(item)
        return [share for share in shares if share]
