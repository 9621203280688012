"""Alarm changes made by other processes, for this process's live consoles.

With several ingest workers, the process serving the console does not make most changes itself.
It finds them in the database instead: every change of an alarm bumps its `version`, so a
short look at the recently changed rows tells which ones moved since the last look.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alarms.feed import AlarmFeed
from cloud.models import AlarmRecord, utcnow
from cloud.periodic import Periodic

# Longer than any transaction takes from a change to its commit: a change stamped just before
# the previous look but committed after it is still seen.
LOOKBACK = timedelta(seconds=30)


class AlarmWatcher:
    """Looks every `every_s` for alarms whose version moved, and publishes them to the feed."""

    def __init__(
        self, sessions: sessionmaker[Session], feed: AlarmFeed, every_s: float = 0.5
    ) -> None:
        self.sessions = sessions
        self.feed = feed
        self.every_s = every_s
        self._seen: dict[int, int] | None = None  # alarm id -> version, of the lookback window

    def look(self) -> list[int]:
        """One look: the ids changed since the last one (none on the first, which only learns)."""
        with self.sessions() as session:
            rows = session.execute(
                select(AlarmRecord.id, AlarmRecord.version).where(
                    AlarmRecord.changed_at >= utcnow() - LOOKBACK
                )
            ).all()
        current = {alarm_id: version for alarm_id, version in rows}
        first, seen = self._seen is None, self._seen or {}
        self._seen = current
        if first:
            return []
        return sorted(i for i, version in current.items() if seen.get(i) != version)

    def publish_changes(self) -> None:
        self.feed.publish(self.look())

    def job(self) -> Periodic:
        """The watcher on its own thread, looking every `every_s`."""
        return Periodic("sitewatch-alarm-watch", self.every_s, self.publish_changes)
