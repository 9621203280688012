"""The site file's patrol section: what loads, what is refused (with key path and line), and the
start times its schedules give, including the random schedule's bounds."""

from __future__ import annotations

import itertools
import shutil
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cloud.patrol.schedule import random_starts, starts_between
from sitewatch.configload import ConfigError, Problem, load_site
from sitewatch.patrolconfig import Route, Schedule

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")

NODES = """\
site: {id: s1, name: Test site}
nodes:
  n1:
    name: Node 1
    readers:
      r1: {name: 消防通道 B2, family: line, port: /dev/ttyUSB0, role: checkpoint}
      r2: {name: 配电房, family: line, port: /dev/ttyUSB1, role: checkpoint}
      lane: {name: Lane, family: line, port: /dev/ttyUSB2, role: gate, lane: l1, direction: in}
"""


def load_problems(tmp_path: Path, patrol: str) -> list[Problem]:
    shutil.copytree(REPO / "config" / "devices", tmp_path / "devices")
    path = tmp_path / "site.yaml"
    path.write_text(NODES + textwrap.dedent(patrol), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    # The gate reader has no parking lane here: that is parking's problem, not patrol's.
    return [p for p in caught.value.problems if p.path.startswith("patrol")]


def test_the_example_site_names_its_checkpoints_after_their_readers() -> None:
    site = load_site(REPO / "config" / "site.example.yaml")
    assert site.patrol.checkpoints["power-room"].name == "配电房 Power room"
    assert site.patrol.guard_of("deadbeef") == "li-na"  # badge UIDs compare case-blind
    assert site.patrol.checkpoint_at("patrol-south", "cp-garage-b1") == "garage-b1"
    assert site.patrol.routes["north-tower"].schedules[0].every_min == 100


@pytest.mark.parametrize(
    ("patrol", "line", "path", "message"),
    [
        (
            "patrol:\n  checkpoints:\n    c1: {node: n1, reader: nope}\n",
            11,
            "patrol.checkpoints.c1.reader",
            "reader 'nope' is not on node 'n1' (readers: lane, r1, r2)",
        ),
        (
            "patrol:\n  checkpoints:\n    c1: {node: n1, reader: lane}\n",
            11,
            "patrol.checkpoints.c1.reader",
            "reader 'lane' is a gate reader, not a checkpoint",
        ),
        (
            "patrol:\n  routes:\n    r:\n      name: R\n      stops: [{checkpoint: ghost}]\n",
            13,
            "patrol.routes.r.stops.0.checkpoint",
            "checkpoint 'ghost' is not defined under patrol.checkpoints",
        ),
        (
            "patrol:\n  guards:\n    a: {name: A, badges: [AA01]}\n    b: {name: B, badges: [aa01]}\n",
            9,
            "patrol",
            "badge AA01 is given to both 'a' and 'b'",
        ),
    ],
)
def test_a_bad_patrol_section_names_the_key_and_line(
    tmp_path: Path, patrol: str, line: int, path: str, message: str
) -> None:
    (problem,) = load_problems(tmp_path, patrol)
    assert (problem.line, problem.path) == (line, path)
    assert message in problem.message


def test_a_lone_worker_time_that_would_come_after_the_missed_alarm_is_refused(
    tmp_path: Path,
) -> None:
    (problem,) = load_problems(
        tmp_path,
        """\
        patrol:
          lone_worker_min: 10
          checkpoints:
            a: {node: n1, reader: r1}
            b: {node: n1, reader: r2}
          routes:
            r:
              name: R
              stops:
                - checkpoint: a
                - {checkpoint: b, walk_min: 2, tolerance_min: 1}
        """,
    )
    assert problem.path == "patrol.routes.r.stops.1"
    assert "lone-worker time 10 min must be shorter than walk + tolerance + grace (8 min)" in (
        problem.message
    )


def test_a_schedule_has_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one of 'at'"):
        Schedule.model_validate({"at": ["08:00"], "every_min": 100})
    with pytest.raises(ValueError, match="min_per_day \\(5\\) is above max_per_day \\(2\\)"):
        Schedule.model_validate(
            {"random": {"from": "09:00", "to": "17:00", "min_per_day": 5, "max_per_day": 2}}
        )


def route(*schedules: dict[str, object]) -> Route:
    return Route.model_validate(
        {"name": "R", "stops": [{"checkpoint": "a"}], "schedules": schedules}
    )


def local(starts: list[datetime]) -> list[str]:
    return [s.astimezone(SHANGHAI).strftime("%a %H:%M") for s in starts]


def test_every_100_minutes_runs_on_across_midnight() -> None:
    begin = datetime(2026, 12, 7, tzinfo=SHANGHAI)
    starts = starts_between("s1", "r", route({"every_min": 100}), "Asia/Shanghai", begin,
                            begin + timedelta(days=3))  # fmt: skip
    gaps = {later - earlier for earlier, later in itertools.pairwise(starts)}
    assert gaps == {timedelta(minutes=100)}  # no short round at midnight
    assert len(starts) in (43, 44)  # 3 days of 100-minute rounds


def test_fixed_times_limited_to_weekdays_and_hours() -> None:
    schedule = {"at": ["07:00", "12:00", "22:00"], "days": ["mon", "sat"],
                "hours": {"from": "06:00", "to": "20:00"}}  # fmt: skip
    begin = datetime(2026, 12, 7, tzinfo=SHANGHAI)  # a Monday
    starts = starts_between("s1", "r", route(schedule), "Asia/Shanghai", begin,
                            begin + timedelta(days=7))  # fmt: skip
    assert local(starts) == ["Mon 07:00", "Mon 12:00", "Sat 07:00", "Sat 12:00"]
    assert all(s.tzinfo == UTC for s in starts)


def test_random_starts_stay_within_their_window_and_daily_bounds() -> None:
    schedule = Schedule.model_validate(
        {"random": {"from": "09:00", "to": "17:00", "min_per_day": 2, "max_per_day": 4}}
    )
    counts = set()
    for offset in range(120):
        day = date(2026, 12, 1) + timedelta(days=offset)
        starts = random_starts("s1", "renovation", 0, schedule, day, SHANGHAI)
        counts.add(len(starts))
        assert 2 <= len(starts) <= 4
        assert all(s.date() == day and 9 <= s.hour < 17 for s in starts)
        assert len(set(starts)) == len(starts)
        # Every worker and every restart draws the same times for the same day.
        assert starts == random_starts("s1", "renovation", 0, schedule, day, SHANGHAI)
    assert counts == {2, 3, 4}  # the whole range is used, not always the same count
    other = random_starts("s1", "other-route", 0, schedule, date(2026, 12, 1), SHANGHAI)
    assert other != random_starts("s1", "renovation", 0, schedule, date(2026, 12, 1), SHANGHAI)
