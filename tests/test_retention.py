"""Retention: regulated minimums refused by name, and pruning that keeps what the rules keep."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cloud import gaps
from cloud.models import AlarmEventRecord, AlarmRecord, CardReadRecord, StoredMessage
from cloud.retention import Retention, prune
from sitewatch.siteconfig import Site
from tests.patrol_desk import ZHANG, PatrolDesk, patrol_site

NOW = datetime(2027, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("alarm_days", 364, "minimum of 365 days (GB 25506: alarm and status records)"),
        ("alarm_records", 9_999, "minimum of 10000 records (GB 25506"),
        ("access_days", 90, "minimum of 180 days (GB 50396: access events)"),
        ("log_days", 100, "minimum of 365 days (duty and patrol logs)"),
        ("inspection_days", 365, "minimum of 1825 days (inspection and test records)"),
    ],
)
def test_a_setting_below_its_regulated_minimum_is_refused_by_name(
    setting: str, value: int, rule: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Retention(**{setting: value})
    assert f"retention {setting} = {value} is below the {rule}" in str(refused.value)


def _alarm_with_history(session: Session, lines: list[datetime], point: str = "p") -> int:
    alarm = AlarmRecord(
        site="s", node="n", device="d", point=point, condition="abnormal", category="trouble",
        priority="high", text="t", state="normal", changed_at=NOW,
    )  # fmt: skip
    session.add(alarm)
    session.flush()
    session.execute(
        insert(AlarmEventRecord),
        [{"alarm_id": alarm.id, "at": at, "event": "raised", "state": "normal"} for at in lines],
    )
    return alarm.id


def _messages(session: Session, stream: str, seqs: range, received: datetime) -> None:
    rows = [
        {
            "site": "s", "node": "n", "stream": stream, "seq": seq, "boot": 1, "kind": "event",
            "source_ts": 1, "received_at": received, "payload": "{}",
        }
        for seq in seqs
    ]  # fmt: skip
    session.execute(StoredMessage.__table__.insert(), rows)


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_old_history_is_pruned_but_never_below_the_record_minimum(
    sessions: sessionmaker[Session],
) -> None:
    keep = Retention(alarm_records=10_000)
    with sessions.begin() as session:
        _alarm_with_history(session, [OLD + timedelta(seconds=i) for i in range(10_500)])
        _alarm_with_history(session, [RECENT] * 20, point="q")
    with sessions.begin() as session:
        pruned = prune(session, keep, NOW)
    # 10,520 lines, 10,500 of them old: only 520 may go, the newest 10,000 stay.
    assert pruned.counts["alarm_events"] == 520
    assert _count(sessions, AlarmEventRecord) == 10_000
    with sessions.begin() as session:
        assert prune(session, keep, NOW).counts["alarm_events"] == 0


def test_a_small_history_is_kept_whatever_its_age(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _alarm_with_history(session, [OLD] * 50)
    with sessions.begin() as session:
        assert prune(session, Retention(), NOW).total == 0
    assert _count(sessions, AlarmEventRecord) == 50


def test_the_history_stays_append_only_outside_the_pruning_job(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _alarm_with_history(session, [OLD] * 3)
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
        session.execute(AlarmEventRecord.__table__.delete())
    assert _count(sessions, AlarmEventRecord) == 3


def test_pruned_messages_are_not_reported_as_gaps(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _messages(session, "feedfeedfeed0001", range(1, 10_101), OLD)
        _messages(session, "feedfeedfeed0001", range(10_101, 10_201), RECENT)
        _messages(session, "feedfeedfeed0001", range(10_205, 10_211), RECENT)  # a real gap
    with sessions.begin() as session:
        # 10,206 messages, the newest 10,000 kept: the 206 oldest go.
        assert prune(session, Retention(), NOW).counts["messages"] == 206
    with sessions() as session:
        found = gaps.node_gaps(session, "s", "n")
    assert [(g.first_missing, g.last_missing) for g in found] == [(10_201, 10_204)], (
        "seqs 1..206 were pruned, not lost"
    )


def test_card_taps_go_after_their_180_days(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for received in (NOW - timedelta(days=181), NOW - timedelta(days=179)):
            session.add(
                CardReadRecord(
                    site="s",
                    node="n",
                    reader="r",
                    card="04A1B2C3",
                    format="uid",
                    source_ts=1,
                    stream="x",
                    seq=1,
                    received_at=received,
                )
            )
    with sessions.begin() as session:
        assert prune(session, Retention(), NOW).counts["card_reads"] == 1
    assert _count(sessions, CardReadRecord) == 1


def test_the_scheduled_job_prunes_and_says_what_it_did(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    from cloud.retention import retention_job

    with sessions.begin() as session:
        _messages(session, "feedfeedfeed0002", range(1, 10_011), NOW - timedelta(days=800))
    job = retention_job(sessions, Retention(), every_s=3600)
    with caplog.at_level("INFO", logger="cloud.retention"):
        job.start()  # it prunes at once, then every hour
        try:
            _wait_for(lambda: "retention: pruned" in caplog.text)
        finally:
            job.stop()
    assert _count(sessions, StoredMessage) == 10_000
    assert "retention: pruned 10 records (alarm_events 0, messages 10" in caplog.text


def _wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)


def test_patrol_logs_go_after_a_year_and_a_recent_tour_stays(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    desk = PatrolDesk(sessions, patrol_site(example_site))
    for start in (NOW - timedelta(days=367), NOW - timedelta(days=300)):
        desk.tap("b2", ZHANG, start)
        desk.tick(start + timedelta(hours=1))  # the rest is missed: the tour ends incomplete
    with sessions.begin() as session:
        counts = prune(session, Retention(), NOW).counts
    assert (counts["patrol_tours"], counts["patrol_visits"], counts["patrol_taps"]) == (1, 3, 1)
    (kept,) = desk.tours()
    assert kept.started_at == NOW - timedelta(days=300)
    assert len(kept.visits) == 3
