"""The edge's durable outbox: numbering, send order, confirmation states, disk budget."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox


def _payload(size: int = 10) -> object:
    return lambda seq: b"x" * size


def test_seq_never_repeats_across_restarts_even_when_all_rows_are_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as outbox:
        stream = outbox.stream
        seqs = [outbox.add("event", _payload()) for _ in range(3)]
        outbox.confirm([(1, 3)])
        assert outbox.depth() == 0
    with Outbox(path) as again:
        assert again.stream == stream
        assert again.add("event", _payload()) == seqs[-1] + 1
    with Outbox(tmp_path / "new-card.db") as other:
        assert other.stream != stream, "a new database (a replaced SD card) gets a new stream"


def test_fire_alarms_go_first_then_everything_in_order_birth_included(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        for kind in ("event", "event", "birth", "alarm", "event", "alarm"):
            outbox.add(kind, _payload())
        order = [(r.seq, r.kind) for r in outbox.unsent(10, exclude=set())]
        assert order == [
            (4, "alarm"),
            (6, "alarm"),
            (1, "event"),
            (2, "event"),
            (3, "birth"),
            (5, "event"),
        ]
        assert [r.seq for r in outbox.unsent(10, exclude={4, 1})] == [6, 2, 3, 5]


def test_rows_move_unsent_handed_over_confirmed(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        for kind in ("event", "alarm", "event"):
            outbox.add(kind, _payload())
        outbox.mark_handed_over(1)
        outbox.mark_handed_over(2)
        status = outbox.status()
        assert (status["event"].unsent, status["event"].handed_over) == (1, 1)
        assert status["event"].oldest_unconfirmed_ms is not None
        outbox.confirm([(2, 2)])
        status = outbox.status()
        assert (status["alarm"].handed_over, status["alarm"].confirmed) == (0, 1)
        # No confirmation in time: handed-over rows go back to unsent and are published again.
        assert outbox.requeue_unconfirmed(older_than_s=0) == 1
        assert outbox.status()["event"].unsent == 2


def test_events_commit_with_full_sync_and_telemetry_with_normal(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert outbox._relaxed.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        outbox.add("telemetry", _payload())
        outbox.add("event", _payload())
        assert {r.kind for r in outbox.unsent(5, exclude=set())} == {"telemetry", "event"}


def test_over_budget_the_oldest_telemetry_goes_first_and_events_stay(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", budget_bytes=600_000) as outbox:
        for i in range(4000):
            outbox.add("telemetry" if i % 2 else "event", _payload(200))
        outbox.enforce_budget()
        status = outbox.status()
        assert status["event"].unsent == 2000, "no event is ever evicted"
        assert status["telemetry"].evicted > 0
        kept = [r.seq for r in outbox.unsent(5000, exclude=set()) if r.kind == "telemetry"]
        assert kept and min(kept) > status["telemetry"].evicted, "the oldest telemetry went first"
        assert outbox.used_bytes() <= 600_000 and not outbox.over_budget


def test_when_only_events_remain_over_budget_they_are_kept_and_flagged(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", budget_bytes=100_000) as outbox:
        for _ in range(1000):
            outbox.add("event", _payload(300))
        outbox.enforce_budget()
        assert outbox.depth() == 1000
        assert outbox.over_budget is True


def test_the_handed_over_count_follows_every_transition(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as outbox:
        for _ in range(5):
            outbox.add("event", _payload())
        for seq in (1, 2, 3):
            outbox.mark_handed_over(seq)
        outbox.mark_handed_over(3)  # a duplicate PUBACK counts once
        assert outbox.handed_over == 3
        outbox.confirm([(2, 4)])  # 2 and 3 were handed over, 4 was not
        assert outbox.handed_over == 1
        outbox.requeue_unconfirmed(older_than_s=0)
        assert outbox.handed_over == 0
        outbox.mark_handed_over(5)
    with Outbox(path) as again:
        assert again.handed_over == 1
