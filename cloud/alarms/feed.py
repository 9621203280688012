"""Which alarms changed, passed from the threads that change them to the console's live streams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class AlarmFeed:
    """Thread-safe fan-out of changed alarm ids to asyncio subscribers (one per open console)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[list[int] | None]]]
        self._subscribers = set()

    def publish(self, ids: Iterable[int]) -> None:
        changed = sorted(set(ids))
        if not changed:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, changed)

    def close(self) -> None:
        """The service is stopping: every subscriber gets None and ends its stream."""
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, None)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[list[int] | None]]:
        """A queue of id lists (None: the service is stopping) for the running event loop."""
        entry = (asyncio.get_running_loop(), asyncio.Queue[list[int] | None]())
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)
