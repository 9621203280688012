"""When routes are due: expand a route's schedules into start times, in the site's local time.

Random starts (不定时巡查) are drawn from a generator seeded by site, route and date, so every
worker, and the same worker after a restart, agrees on them without storing them in advance.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sitewatch.alarmconfig import DAYS
from sitewatch.patrolconfig import Route, Schedule, minutes_of

# Every-N-minutes schedules count from here, not from each midnight: 100 minutes does not divide a
# day, and restarting the count at midnight would leave a short gap between two rounds.
EPOCH = datetime(2024, 1, 1)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _day_starts(
    site: str, route_id: str, index: int, schedule: Schedule, day: date, zone: ZoneInfo
) -> list[datetime]:
    midnight = _local_midnight(day, zone)
    if schedule.at is not None:
        return [midnight + timedelta(minutes=minutes_of(at)) for at in schedule.at]
    if schedule.every_min is not None:
        epoch = EPOCH.replace(tzinfo=zone)
        step = timedelta(minutes=schedule.every_min)
        first = -((epoch - midnight) // step)  # ceil((midnight - epoch) / step)
        starts, k = [], first
        while (start := epoch + k * step) < midnight + timedelta(days=1):
            starts.append(start)
            k += 1
        return starts
    assert schedule.random is not None
    return random_starts(site, route_id, index, schedule, day, zone)


def random_starts(
    site: str, route_id: str, index: int, schedule: Schedule, day: date, zone: ZoneInfo
) -> list[datetime]:
    """The day's unannounced starts: a count in [min, max], at distinct minutes of the window."""
    window = schedule.random
    assert window is not None
    rng = random.Random(f"{site}/{route_id}/{index}/{day.isoformat()}")
    begin, end = minutes_of(window.from_), minutes_of(window.to)
    count = rng.randint(window.min_per_day, window.max_per_day)
    minutes = sorted(rng.sample(range(begin, end), min(count, end - begin)))
    midnight = _local_midnight(day, zone)
    return [midnight + timedelta(minutes=m) for m in minutes]


def _allowed(schedule: Schedule, start: datetime) -> bool:
    if DAYS[start.weekday()] not in schedule.days:
        return False
    return schedule.hours is None or schedule.hours.contains(start.hour * 60 + start.minute)


def starts_between(
    site: str, route_id: str, route: Route, timezone: str, begin: datetime, end: datetime
) -> list[datetime]:
    """Scheduled starts of a route in [begin, end), as aware UTC times, earliest first."""
    zone = ZoneInfo(timezone)
    first_day = begin.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    found: set[datetime] = set()
    day = first_day
    while day <= last_day:
        for index, schedule in enumerate(route.schedules):
            for start in _day_starts(site, route_id, index, schedule, day, zone):
                if _allowed(schedule, start) and begin <= start < end:
                    found.add(start.astimezone(UTC))
        day += timedelta(days=1)
    return sorted(found)


def next_starts(
    site: str, route_id: str, route: Route, timezone: str, now: datetime, count: int = 3
) -> list[datetime]:
    """The next `count` starts after `now`, looking at most a week ahead."""
    return starts_between(site, route_id, route, timezone, now, now + timedelta(days=7))[:count]
