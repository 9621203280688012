"""Alarm-system health figures of EEMUA 191: rate, floods, chattering and stale alarms per site."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms.states import AlarmState
from cloud.models import AlarmEventRecord, AlarmRecord

RATE_WINDOW = timedelta(minutes=10)
FLOOD_AT = 10  # annunciated alarms in RATE_WINDOW
CHATTER_WINDOW = timedelta(seconds=60)
CHATTER_AT = 3  # activations of one alarm within CHATTER_WINDOW
CHATTER_LOOKBACK = timedelta(hours=1)
STALE_AFTER = timedelta(hours=24)
ACTIVATIONS = ("raised", "returned")


@dataclass(frozen=True)
class Chattering:
    node: str
    device: str
    point: str
    activations: int  # the most within any CHATTER_WINDOW of the lookback


@dataclass(frozen=True)
class Stale:
    id: int
    text: str
    raised_at: datetime


@dataclass
class SiteKpis:
    site: str
    last_10_min: int = 0
    flood: bool = False
    chattering: list[Chattering] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)


def _most_within(times: list[datetime], window: timedelta) -> int:
    times.sort()
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def compute(session: Session, sites: list[str], now: datetime) -> list[SiteKpis]:
    """Figures for each site: only annunciated activations count (not shelved or suppressed)."""
    result = {site: SiteKpis(site) for site in sites}
    activations = session.execute(
        select(
            AlarmRecord.site,
            AlarmRecord.node,
            AlarmRecord.device,
            AlarmRecord.point,
            AlarmEventRecord.at,
        )
        .join(AlarmEventRecord.alarm)
        .where(
            AlarmEventRecord.event.in_(ACTIVATIONS),
            AlarmEventRecord.state == AlarmState.UNACKNOWLEDGED.value,
            AlarmEventRecord.at >= now - CHATTER_LOOKBACK,
        )
    )
    by_point: dict[tuple[str, str, str, str], list[datetime]] = defaultdict(list)
    for site, node, device, point, at in activations:
        if site not in result:
            continue
        by_point[(site, node, device, point)].append(at)
        if at >= now - RATE_WINDOW:
            result[site].last_10_min += 1
    for (site, node, device, point), times in sorted(by_point.items()):
        most = _most_within(times, CHATTER_WINDOW)
        if most >= CHATTER_AT:
            result[site].chattering.append(Chattering(node, device, point, most))
    stale = select(AlarmRecord).where(
        AlarmRecord.active.is_(True),
        AlarmRecord.state != AlarmState.NORMAL.value,
        AlarmRecord.raised_at <= now - STALE_AFTER,
    )
    for alarm in session.scalars(stale.order_by(AlarmRecord.raised_at)):
        if alarm.site in result and alarm.raised_at is not None:
            result[alarm.site].stale.append(Stale(alarm.id, alarm.text, alarm.raised_at))
    for kpis in result.values():
        kpis.flood = kpis.last_10_min >= FLOOD_AT
    return list(result.values())
