"""How long records are kept, with the minimums the regulations set, and the pruning job.

GB 25506 wants alarm and status records for at least 365 days and never fewer than the last
10,000; GB 50396 access events for 180 days; duty and patrol logs are kept a year, inspection and
test records five. Settings below those are refused with the rule's name. Pruning deletes only
what is older than the setting *and* beyond the record minimum, and says what it did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import (
    AlarmEventRecord,
    CardReadRecord,
    DeadLetter,
    PruningPermit,
    StoredMessage,
    StreamFloor,
    utcnow,
)
from cloud.patrol.retention import prune_patrol
from cloud.periodic import Periodic

log = logging.getLogger(__name__)

MIN_ALARM_DAYS = 365
MIN_ALARM_RECORDS = 10_000
MIN_ACCESS_DAYS = 180
MIN_LOG_DAYS = 365
MIN_INSPECTION_DAYS = 5 * 365


class Retention(BaseModel):
    """Retention settings; each is checked against its regulated minimum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alarm_days: int = Field(default=MIN_ALARM_DAYS, description="alarm and status records")
    alarm_records: int = Field(
        default=MIN_ALARM_RECORDS, description="never keep fewer alarm and status records"
    )
    access_days: int = Field(default=MIN_ACCESS_DAYS, description="card taps (access events)")
    log_days: int = Field(default=MIN_LOG_DAYS, description="duty and patrol logs")
    inspection_days: int = Field(
        default=MIN_INSPECTION_DAYS, description="inspection and test records"
    )

    @model_validator(mode="after")
    def _regulated_minimums(self) -> Retention:
        rules = [
            ("alarm_days", MIN_ALARM_DAYS, "days", "GB 25506: alarm and status records"),
            ("alarm_records", MIN_ALARM_RECORDS, "records", "GB 25506: alarm and status records"),
            ("access_days", MIN_ACCESS_DAYS, "days", "GB 50396: access events"),
            ("log_days", MIN_LOG_DAYS, "days", "duty and patrol logs"),
            ("inspection_days", MIN_INSPECTION_DAYS, "days", "inspection and test records"),
        ]
        for name, minimum, unit, rule in rules:
            value = getattr(self, name)
            if value < minimum:
                raise ValueError(
                    f"retention {name} = {value} is below the minimum of {minimum} {unit} ({rule})"
                )
        return self


@dataclass
class Pruned:
    """What one pruning run removed, by table."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _prune_oldest(
    session: Session,
    model: type,
    moment: object,
    cutoff: datetime,
    keep_last: int,
    before: Callable[[tuple[object, ...]], None] | None = None,
) -> int:
    """Delete rows older than `cutoff`, but never the newest `keep_last` rows of the table.
    `before` sees the conditions of the rows about to go, while they are still there."""
    newest_kept = session.scalar(
        select(model.id).order_by(model.id.desc()).offset(keep_last - 1).limit(1)  # type: ignore[attr-defined]
    )
    if newest_kept is None:
        return 0  # fewer rows than the minimum: nothing may go
    doomed = (moment < cutoff, model.id < newest_kept)  # type: ignore[attr-defined, operator]
    if before is not None:
        before(doomed)
    return int(session.execute(delete(model).where(*doomed)).rowcount or 0)


def prune(session: Session, retention: Retention, now: datetime) -> Pruned:
    """One pruning run in the session's transaction."""
    pruned = Pruned()
    alarm_cutoff = now - timedelta(days=retention.alarm_days)
    keep = retention.alarm_records
    pruned.counts["alarm_events"] = _prune_history(session, alarm_cutoff, keep)
    pruned.counts["messages"] = _prune_messages(session, alarm_cutoff, keep)
    pruned.counts["dead_letters"] = _prune_oldest(
        session, DeadLetter, DeadLetter.received_at, alarm_cutoff, keep
    )
    access_cutoff = now - timedelta(days=retention.access_days)
    pruned.counts["card_reads"] = int(
        session.execute(
            delete(CardReadRecord).where(CardReadRecord.received_at < access_cutoff)
        ).rowcount
        or 0
    )
    pruned.counts.update(prune_patrol(session, now - timedelta(days=retention.log_days)))
    return pruned


def _prune_messages(session: Session, cutoff: datetime, keep_last: int) -> int:
    """Old messages go, and each stream remembers how far: a pruned seq is not a gap."""

    def remember_floors(doomed: tuple[object, ...]) -> None:
        floors = session.execute(
            select(
                StoredMessage.site,
                StoredMessage.node,
                StoredMessage.stream,
                func.max(StoredMessage.seq),
            )
            .where(*doomed)  # type: ignore[arg-type]
            .group_by(StoredMessage.site, StoredMessage.node, StoredMessage.stream)
        ).all()
        for site, node, stream, highest in floors:
            floor = session.scalar(
                select(StreamFloor).where(
                    StreamFloor.site == site,
                    StreamFloor.node == node,
                    StreamFloor.stream == stream,
                )
            )
            if floor is None:
                session.add(
                    StreamFloor(site=site, node=node, stream=stream, pruned_through=highest)
                )
            else:
                floor.pruned_through = max(floor.pruned_through, highest)

    return _prune_oldest(
        session, StoredMessage, StoredMessage.received_at, cutoff, keep_last, remember_floors
    )


def _prune_history(session: Session, cutoff: datetime, keep_last: int) -> int:
    """The alarm history is append-only for everyone but this job: the database lets a
    transaction delete from it only while it holds a pruning permit (see the migrations)."""
    if session.scalar(select(func.count()).select_from(AlarmEventRecord)) <= keep_last:
        return 0
    permit = PruningPermit(holder="retention")
    session.add(permit)
    session.flush()
    try:
        return _prune_oldest(session, AlarmEventRecord, AlarmEventRecord.at, cutoff, keep_last)
    finally:
        session.delete(permit)
        session.flush()


def retention_job(
    sessions: sessionmaker[Session], retention: Retention, every_s: float
) -> Periodic:
    """Prunes at start and then every `every_s`, and logs what it removed."""

    def run_once() -> Pruned:
        with sessions.begin() as session:
            pruned = prune(session, retention, utcnow())
        detail = ", ".join(f"{table} {count}" for table, count in pruned.counts.items())
        log.info("retention: pruned %d records (%s)", pruned.total, detail)
        return pruned

    return Periodic("sitewatch-retention", every_s, run_once)
