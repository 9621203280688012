"""A job run every so many seconds on its own thread: the cloud's clocks (drain, prune, watch)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `job` every `every_s` seconds on a daemon thread until stopped; a failure is logged
    and the job runs again next time."""

    def __init__(self, name: str, every_s: float, job: Callable[[], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.job = job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.job()
            except Exception:
                log.exception("%s failed; it runs again in %.0f s", self.name, self.every_s)
            self._stop.wait(self.every_s)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
