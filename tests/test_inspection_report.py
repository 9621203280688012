"""The weekly pump-room report from a seeded week: every finding the rules ask for, and a week
with nothing wrong judged as such."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sitewatch.siteconfig import Site
from tests.pumproom_week import PumpRoomWeek, codes, iso, pump


@pytest.fixture
def week(sessions: sessionmaker[Session], example_site: Site) -> PumpRoomWeek:
    return PumpRoomWeek(sessions, example_site)


def tested(week: PumpRoomWeek) -> None:
    """Both pumps' weekly automatic test runs, as they should be."""
    week.run("fire-pump-1", week.at(0, 9), 12)
    week.run("fire-pump-2", week.at(0, 10), 31)


def test_a_good_week_has_passed_test_runs_and_no_findings(week: PumpRoomWeek) -> None:
    week.healthy()
    tested(week)
    report = week.report()
    electric = pump(report, "fire-pump-1")
    assert electric["test_run"]["passed"] and electric["test_run"]["run_min"] == 12
    assert electric["auto_share"] == 1.0 and electric["power_share"] == 1.0
    assert [s["cause"] for s in electric["starts"]] == ["test"]
    assert pump(report, "fire-pump-2")["test_run"]["passed"]
    assert report["findings"] == []
    assert all(a["share"] == 1.0 for a in report["availability"])
    assert [d["starts"] for d in report["jockey"]["days"]] == [0] * 7


def test_a_test_run_too_short_fails(week: PumpRoomWeek) -> None:
    week.healthy()
    week.run("fire-pump-1", week.at(0, 9), 6)
    week.run("fire-pump-2", week.at(0, 10), 20)  # a diesel needs 30 minutes
    report = week.report()
    electric = pump(report, "fire-pump-1")["test_run"]
    assert (electric["passed"], electric["long_enough"]) == (False, False)
    assert "ran 6 min, less than the 10 min required (NFPA 25)" in electric["reasons"]
    assert "less than the 30 min required" in pump(report, "fire-pump-2")["test_run"]["reasons"][0]
    assert codes(report).count("test_run_failed") == 2


def test_a_slow_start_and_a_missing_test_run_are_findings(week: PumpRoomWeek) -> None:
    week.healthy()
    week.run("fire-pump-1", week.at(0, 9), 12, start_s=150)  # GB 50974: running within 2 min
    week.run("fire-pump-2", week.at(0, 10), 40, cause="manual")
    report = week.report()
    assert (
        "took 150 s to run, more than 120 s (GB 50974)"
        in (pump(report, "fire-pump-1")["test_run"]["reasons"])
    )
    assert pump(report, "fire-pump-2")["test_run"] is None
    missing = next(f for f in report["findings"] if f["code"] == "test_run_missing")
    assert missing["device"] == "fire-pump-2" and "1 manual run(s) do not count" in missing["text"]


def test_a_pump_in_manual_for_a_time(week: PumpRoomWeek) -> None:
    week.healthy()
    tested(week)
    week.change(week.at(2, 14), "fire-pump-1", "in_auto", False)
    week.change(week.at(2, 17), "fire-pump-1", "in_auto", True)
    report = week.report()
    electric = pump(report, "fire-pump-1")
    assert electric["auto_share"] == pytest.approx(1 - 3 / (7 * 24))
    (finding,) = [f for f in report["findings"] if f["code"] == "not_in_auto"]
    assert finding["severity"] == "high" and "not in AUTO for 3.0 h" in finding["text"]
    assert finding["ranges"] == [[iso(week.at(2, 14)), iso(week.at(2, 17))]]


def test_the_jockey_over_its_daily_limit_is_a_probable_leak(week: PumpRoomWeek) -> None:
    week.healthy()
    tested(week)
    for n in range(15):  # day 3: 15 starts against a limit of 12
        week.change(week.at(3, 1 + n), "jockey-pump", "running", True)
        week.change(week.at(3, 1 + n) + timedelta(minutes=2), "jockey-pump", "running", False)
    report = week.report()
    assert [d["starts"] for d in report["jockey"]["days"]] == [0, 0, 0, 15, 0, 0, 0]
    assert report["jockey"]["days"][3]["over"]
    (finding,) = [f for f in report["findings"] if f["code"] == "jockey_over_limit"]
    assert "a probable leak (跑冒滴漏)" in finding["text"]


def test_pressure_below_the_band_in_the_test_run_and_below_the_supply_limit(
    week: PumpRoomWeek,
) -> None:
    week.healthy()
    week.run("fire-pump-1", week.at(0, 9), 12, pressure=0.40)  # baseline 0.60 ± 20 %
    week.run("fire-pump-2", week.at(0, 10), 31)
    for minute in range(0, 60, 5):
        at = week.at(4, 3) + timedelta(minutes=minute, seconds=30)  # between the healthy samples
        week.sample("supply-pressure", "pressure", at, 0.30)
    report = week.report()
    electric = pump(report, "fire-pump-1")["test_run"]
    assert not electric["passed"]
    assert electric["pressures"]["discharge"]["why"].startswith(
        "0.400–0.600 MPa, outside 0.480–0.720"
    )
    (supply,) = report["supply"]
    assert supply["min"] == pytest.approx(0.30) and supply["below_s"] == 12 * 4.5 * 60
    assert "pressure_low" in codes(report)


def test_a_valve_off_normal(week: PumpRoomWeek) -> None:
    week.healthy()
    tested(week)
    week.change(week.at(5, 10), "valve-station-1", "valve_open", False)
    week.change(week.at(5, 10.5), "valve-station-1", "valve_open", True)
    report = week.report()
    (valve,) = report["valves"]
    assert valve["off_normal"] == [[iso(week.at(5, 10)), iso(week.at(5, 10.5))]]
    assert "valve_off_normal" in codes(report)


def test_a_gap_in_the_data_is_shown_not_taken_as_fine(week: PumpRoomWeek) -> None:
    silent = (week.at(1, 2), week.at(1, 6))
    week.healthy(silent=silent)
    tested(week)
    report = week.report()
    pump_one = next(a for a in report["availability"] if a["device"] == "fire-pump-1")
    assert pump_one["share"] == pytest.approx(1 - 4 / (7 * 24), abs=0.001)
    gaps = [f for f in report["findings"] if f["code"] == "data_gap"]
    assert len(gaps) == len(week.site.nodes["pumproom"].devices)
    assert "no data for 4.0 h" in gaps[0]["text"]
    # The AUTO share counts only the time with data: unknown is not "in AUTO".
    assert pump(report, "fire-pump-1")["auto_share"] == 1.0


def test_a_week_in_progress_covers_up_to_now(week: PumpRoomWeek) -> None:
    week.healthy()
    report = week.report(now=week.at(2, 12))
    assert not report["complete"] and report["covers"][1] == iso(week.at(2, 12))
    assert len(report["jockey"]["days"]) == 3
