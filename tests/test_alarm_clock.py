"""Time-driven alarm rules, with the clock in the test's hands: delays, rates, holds that expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.alarms import actions, clock
from cloud.models import AlarmRecord
from sitewatch import wire
from sitewatch.configload import load_site
from sitewatch.siteconfig import Site

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "site.example.yaml"
# A Monday 09:10 in Shanghai: inside the test window below.
T0 = datetime(2026, 11, 23, 9, 10, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
STREAM = "c10c4c10c4000001"


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The example site with delays on the supply pressure, a rate on the tank level, and a
    weekly pump-test window on fire pump 1 (Mondays 09:00-09:30 local)."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["profiles_dir"] = str(EXAMPLE.parent / "devices")
    devices = doc["nodes"]["pumproom"]["devices"]
    devices["supply-pressure"]["alarms"] = {
        "pressure": {"low": 0.35, "on_delay_s": 10, "off_delay_s": 5}
    }
    devices["fire-tank"]["alarms"] = {"level": {"rate_per_min": 0.5}}
    doc["suppressions"] = [
        {
            "name": "weekly pump test",
            "node": "pumproom",
            "device": "fire-pump-1",
            "weekly": [{"day": "mon", "at": "09:00", "minutes": 30}],
        }
    ]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_site(path)


class Rig:
    def __init__(self, sessions: sessionmaker[Session], site: Site) -> None:
        self.sessions, self.sites, self.seq = sessions, {site.id: site}, 0

    def value(self, device: str, point: str, value: wire.Value, seconds: float) -> None:
        """The device read `value` `seconds` after T0."""
        self.seq += 1
        ts = int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)
        item = wire.PointValue(device=device, point=point, value=value, ts=ts)
        message = wire.Event(
            site="harbour-view", node="pumproom", stream=STREAM, seq=self.seq, boot=1, ts=ts,
            items=[item],
        )  # fmt: skip
        with self.sessions.begin() as session:
            store.apply_one(session, self.sites, message)

    def tick(self, seconds: float) -> None:
        with self.sessions.begin() as session:
            clock.tick(session, self.sites, T0 + timedelta(seconds=seconds))

    def alarm(self, point: str, condition: str | None = None) -> AlarmRecord | None:
        with self.sessions() as session:
            query = select(AlarmRecord).where(AlarmRecord.point == point)
            if condition is not None:
                query = query.where(AlarmRecord.condition == condition)
            return session.scalar(query)

    def state(self, point: str, condition: str | None = None) -> str | None:
        found = self.alarm(point, condition)
        return None if found is None else found.state

    def events(self, point: str) -> list[str]:
        with self.sessions() as session:
            found = session.scalar(select(AlarmRecord).where(AlarmRecord.point == point))
            return [] if found is None else [line.event for line in found.history]


@pytest.fixture
def rig(sessions: sessionmaker[Session], site: Site) -> Rig:
    return Rig(sessions, site)


def test_an_on_delay_raises_only_once_the_condition_has_lasted(rig: Rig) -> None:
    rig.value("supply-pressure", "pressure", 0.2, 0)
    assert rig.state("pressure") == "normal", "waiting out its 10 s on-delay"
    rig.tick(9)
    assert rig.state("pressure") == "normal"
    rig.tick(10)
    alarm = rig.alarm("pressure")
    assert alarm is not None and alarm.state == "unacknowledged"
    assert alarm.raised_at == T0 + timedelta(seconds=10), "raised when the delay ran out"


def test_an_excursion_shorter_than_the_on_delay_raises_nothing(rig: Rig) -> None:
    rig.value("supply-pressure", "pressure", 0.2, 0)
    rig.value("supply-pressure", "pressure", 0.6, 4)
    rig.tick(60)
    assert rig.state("pressure") == "normal"
    assert rig.events("pressure") == []


def test_an_off_delay_keeps_a_flickering_alarm_raised(rig: Rig) -> None:
    rig.value("supply-pressure", "pressure", 0.2, 0)
    rig.tick(10)
    rig.value("supply-pressure", "pressure", 0.6, 20)
    rig.value("supply-pressure", "pressure", 0.2, 22)  # back low before its 5 s off-delay
    rig.tick(40)
    assert rig.state("pressure") == "unacknowledged"
    rig.value("supply-pressure", "pressure", 0.6, 50)
    rig.tick(54)
    assert rig.state("pressure") == "unacknowledged"
    rig.tick(55)
    assert rig.state("pressure") == "rtn_unacknowledged"
    assert rig.events("pressure") == ["raised", "cleared"]


def test_a_level_falling_faster_than_its_rate_raises_a_rate_alarm(rig: Rig) -> None:
    rig.value("fire-tank", "level", 3.0, 0)
    assert rig.alarm("level") is None, "a first value has no rate"
    rig.value("fire-tank", "level", 2.0, 60)  # 1 m/min, the limit is 0.5
    rate = rig.alarm("level", "rate")
    assert rate is not None and (rate.state, rate.category) == ("unacknowledged", "supervisory")
    assert "0.5/min" in rate.text
    rig.value("fire-tank", "level", 1.99, 120)
    assert rig.state("level", "rate") == "rtn_unacknowledged"


def test_shelving_expires_on_the_clock_and_a_persisting_alarm_fires_again(rig: Rig) -> None:
    rig.value("pumproom-leak", "zone1", True, 0)
    alarm = rig.alarm("zone1")
    assert alarm is not None
    with rig.sessions.begin() as session:
        actions.shelve(session, alarm.id, "王", T0, 30, "leak known, mopping up", 480)
    rig.tick(29 * 60)
    assert rig.state("zone1") == "shelved"
    rig.tick(30 * 60)
    assert rig.state("zone1") == "unacknowledged"
    assert rig.events("zone1")[-2:] == ["unshelved", "raised"]


def test_a_pump_start_inside_its_test_window_is_suppressed_by_design(rig: Rig) -> None:
    rig.value("fire-pump-1", "start_cause", "demand", 0)
    assert rig.state("start_cause") == "suppressed"
    rig.value("fire-pump-1", "start_cause", "none", 600)
    rig.tick(25 * 60)  # 09:35: the window has closed
    alarm = rig.alarm("start_cause")
    assert alarm is not None and (alarm.state, alarm.latched) == ("normal", False)
    assert rig.events("start_cause") == ["suppressed", "raised", "cleared", "unsuppressed"]


def test_a_pump_still_running_when_the_window_closes_fires_the_alarm(rig: Rig) -> None:
    rig.value("fire-pump-1", "start_cause", "demand", 0)
    rig.tick(19 * 60)  # 09:29
    assert rig.state("start_cause") == "suppressed"
    rig.tick(20 * 60)  # 09:30
    assert rig.state("start_cause") == "unacknowledged"


def test_a_suppression_window_opening_holds_an_alarm_already_standing(rig: Rig) -> None:
    rig.value("fire-pump-1", "fault", True, -3600)  # 08:10, outside the window
    assert rig.state("fault") == "unacknowledged"
    rig.tick(-600)  # 09:00: the window opens
    assert rig.state("fault") == "suppressed"
