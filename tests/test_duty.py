"""Duty log and shift handover with a controllable clock: shifts and rosters (GB 25201), the draft
of a seeded shift, incoming-before-outgoing, entries that never change, status-check alarms."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.alarms import lifecycle
from cloud.duty import handover, shifts
from cloud.duty import log as duty_log
from cloud.duty.draft import draft
from cloud.duty.tables import DutyLogEntry
from cloud.gates.tables import GatePassRecord
from cloud.models import AlarmRecord, EquipmentTag
from sitewatch import wire
from sitewatch.configload import ConfigError, load_site
from sitewatch.siteconfig import Site
from tests.patrol_desk import ZHANG, PatrolDesk, patrol_site

REPO = Path(__file__).resolve().parent.parent
DAY = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai: the day shift begins
HOUR = timedelta(hours=1)


def raise_fault(sessions: sessionmaker[Session], site: Site, at: datetime, on: bool = True) -> int:
    """fire-pump-1's controller fault (a trouble alarm), as the pump-room edge reports it."""
    ts = int(at.timestamp() * 1000)
    value = wire.PointValue(device="fire-pump-1", point="fault", value=on, ts=ts)
    message = wire.Event(
        site=site.id,
        node="pumproom",
        stream="duty-test-stream",
        seq=ts,
        boot=1,
        ts=ts,
        items=[value],
    )
    with sessions.begin() as session:
        store.apply_one(session, {site.id: site}, message)
        alarm = session.scalar(select(AlarmRecord).where(AlarmRecord.point == "fault"))
        assert alarm is not None
        return alarm.id


def entry(
    sessions: sessionmaker[Session], site: Site, at: datetime, kind: str = "other", **fields: object
) -> DutyLogEntry:
    with sessions.begin() as session:
        written = duty_log.write_entry(
            session, site, kind, fields.pop("text", "记录"), "王芳", at, **fields
        )  # type: ignore[arg-type]
        session.expunge(written)
        return written


# -- shifts and rosters -------------------------------------------------------------------------


def load_duty(tmp_path: Path, duty: str) -> Site:
    shutil.copytree(REPO / "config" / "devices", tmp_path / "devices")
    path = tmp_path / "site.yaml"
    path.write_text("site: {id: s1, name: S}\nnodes:\n  n1: {name: N}\n" + duty, encoding="utf-8")
    return load_site(path)


def test_a_shift_longer_than_8_hours_is_refused_with_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_duty(tmp_path, "duty:\n  shifts:\n    long: {name: L, start: '08:00', end: '20:00'}\n")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (6, "duty.shifts.long")
    assert "lasts 12 h; GB 25201 allows at most 8 h" in problem.message


def test_gaps_in_the_cover_and_thin_rosters_are_flagged(tmp_path: Path) -> None:
    site = load_duty(
        tmp_path,
        """\
duty:
  shifts:
    day: {name: Day, start: "08:00", end: "16:00", staff: [A, B]}
    night: {name: Night, start: "22:00", end: "06:00", staff: [C]}
""",
    )
    assert site.duty.gaps() == [("06:00", "08:00"), ("16:00", "22:00")]
    assert site.duty.violations() == [
        "no shift covers 06:00–08:00 (GB 25201: 24-hour cover)",
        "no shift covers 16:00–22:00 (GB 25201: 24-hour cover)",
        "shift night (Night) has 1 on its roster; GB 25201 wants at least 2",
    ]


def test_the_example_site_covers_the_day_with_two_a_shift(example_site: Site) -> None:
    assert example_site.duty.violations() == []
    night = shifts.scheduled(example_site, DAY - timedelta(minutes=1))
    assert night is not None and (night.shift, night.day.isoformat()) == ("night", "2026-12-07")


# -- incoming before outgoing -------------------------------------------------------------------


def test_the_outgoing_shift_stays_on_duty_until_two_incoming_accept(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    entry(sessions, example_site, DAY + HOUR, "status_check", text="设备正常")
    late = DAY + 8 * HOUR + timedelta(minutes=5)  # 16:05: the evening shift is due
    with sessions.begin() as session:
        on, wanted = shifts.on_duty(session, example_site, late)
        assert (on.shift, wanted.shift) == ("day", "evening")  # type: ignore[union-attr]
        signed = handover.sign(session, example_site, on, ["王芳 Wang Fang"], "一切正常", late)  # type: ignore[arg-type]
        assert shifts.on_duty(session, example_site, late)[0].shift == "day"  # type: ignore[union-attr]
        with pytest.raises(handover.HandoverRefused, match="at least 2 incoming staff"):
            handover.accept(session, example_site, signed, ["赵敏 Zhao Min"], None, late)
        with pytest.raises(handover.HandoverRefused, match="cannot be the ones handing over"):
            handover.accept(session, example_site, signed, ["王芳 Wang Fang", "x"], None, late)
        handover.accept(
            session,
            example_site,
            signed,
            ["赵敏 Zhao Min", "刘洋 Liu Yang"],
            "消防泵1待修",
            late + HOUR,
        )
        assert shifts.on_duty(session, example_site, late + HOUR)[0].shift == "evening"  # type: ignore[union-attr]
        assert signed.sealed_id is not None and signed.remarks == "消防泵1待修"
        assert signed.draft["incoming"] == {
            "id": "evening",
            "name": "中班 Evening",
            "date": "2026-12-07",
        }
        # An entry written while the day shift was still on duty belongs to the day shift.
    with sessions.begin() as session:
        on, _ = shifts.on_duty(session, example_site, late)
        assert on.shift == "evening"  # type: ignore[union-attr]


def test_a_shift_nobody_worked_is_not_waited_for(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    with sessions() as session:
        on, wanted = shifts.on_duty(session, example_site, DAY + 8 * HOUR + timedelta(minutes=5))
        assert on == wanted and on.shift == "evening"  # type: ignore[union-attr]


# -- the draft ---------------------------------------------------------------------------------


def test_the_draft_of_a_seeded_shift(sessions: sessionmaker[Session], example_site: Site) -> None:
    site = patrol_site(example_site)  # the test route, scheduled at 08:00: inside the day shift
    fault = raise_fault(sessions, site, DAY + timedelta(minutes=30))
    with sessions.begin() as session:
        alarm = session.get(AlarmRecord, fault)
        lifecycle.acknowledge(alarm, "王芳", DAY + timedelta(minutes=40))  # type: ignore[arg-type]
        session.add(
            EquipmentTag(
                site=site.id,
                node="pumproom",
                device="jockey-pump",
                tagged_by="李工",
                reason="更换机封",
                tagged_at=DAY + HOUR,
            )
        )
        session.add(
            GatePassRecord(
                site=site.id,
                node="gate",
                lane="lane-in",
                direction="in",
                card="0A00BC614E",
                allowed=False,
                reason="lost",
                at=DAY + 3 * HOUR,
            )
        )
    entry(sessions, site, DAY + HOUR, "status_check", text="设备正常")
    entry(
        sessions,
        site,
        DAY + 2 * HOUR,
        "alarm_handled",
        text="1号泵控制器故障",
        alarm_id=fault,
        location="B2 泵房",
        cause="控制器跳闸",
        handling="复位，已通知维保",
    )
    desk = PatrolDesk(sessions, site)
    desk.tap("b2", ZHANG, DAY + timedelta(minutes=2))
    desk.tick(DAY + 2 * HOUR)  # power and lift missed: the tour ends incomplete
    with sessions() as session:
        shift = shifts.instance(site, "day", DAY.date())
        found = draft(session, site, shift, DAY + 7 * HOUR)
    assert found["shift"]["name"] == "白班 Day" and found["staff"] == [
        "王芳 Wang Fang",
        "李强 Li Qiang",
    ]
    raised = {a["id"]: a for a in found["alarms_raised"]}[fault]
    assert raised["category"] == "trouble"
    texts = {a["text"] for a in found["alarms_raised"]}
    assert {"Patrol checkpoint missed", "Patrol tour incomplete"} <= texts  # the patrol's too
    assert [h["event"] for h in raised["handling"]] == ["acknowledged"]
    assert fault in [a["id"] for a in found["alarms_open"]]  # acknowledged, still active
    assert [t["device"] for t in found["out_of_service"]] == ["jockey-pump"]
    assert (found["patrol"]["missed"], found["patrol"]["done"]) == (1, 0)
    assert found["gates"]["by_reason"] == {"lost": 1}
    # Status entries: 09:00, then none: overdue from 11:00 to the draft at 15:00.
    (gap,) = found["overdue_status_checks"]
    assert (gap["from"], gap["to"]) == ((DAY + 3 * HOUR).isoformat(), (DAY + 7 * HOUR).isoformat())
    assert [e["kind"] for e in found["log"]] == ["status_check", "alarm_handled"]


# -- the log -----------------------------------------------------------------------------------


def test_an_alarm_handled_entry_needs_where_why_and_what_and_clears_the_prompt(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    fault = raise_fault(sessions, example_site, DAY + HOUR)
    with sessions() as session:
        (prompt,) = duty_log.prompts(session, example_site, DAY)
        assert (prompt.alarm.id, prompt.handled) == (fault, False)
    with pytest.raises(duty_log.EntryRefused, match="needs location, cause, handling"):
        entry(sessions, example_site, DAY + 2 * HOUR, "alarm_handled", alarm_id=fault)
    entry(
        sessions,
        example_site,
        DAY + 2 * HOUR,
        "alarm_handled",
        alarm_id=fault,
        location="B2",
        cause="跳闸",
        handling="复位",
    )
    with sessions() as session:
        assert duty_log.prompts(session, example_site, DAY) == []


def test_entries_are_never_changed_in_the_database(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    first = entry(sessions, example_site, DAY + HOUR, text="错字")
    entry(sessions, example_site, DAY + HOUR, text="更正：……", corrects_id=first.id)
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
        session.execute(update(DutyLogEntry).where(DutyLogEntry.id == first.id).values(text="x"))
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
        session.execute(text("DELETE FROM duty_log"))


def test_an_overdue_status_check_raises_an_alarm_and_an_entry_clears_it(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    since = DAY
    with sessions.begin() as session:
        duty_log.tick(
            session, {example_site.id: example_site}, DAY + 2 * HOUR - timedelta(seconds=1), since
        )
    assert _overdue(sessions) is None
    with sessions.begin() as session:
        duty_log.tick(session, {example_site.id: example_site}, DAY + 2 * HOUR, since)
    alarm = _overdue(sessions)
    assert alarm is not None and (alarm.active, alarm.category, alarm.value) == (
        True,
        "supervisory",
        "last: never",
    )
    entry(sessions, example_site, DAY + 2 * HOUR + timedelta(minutes=5), "status_check")
    assert not _overdue(sessions).active  # type: ignore[union-attr]


def _overdue(sessions: sessionmaker[Session]) -> AlarmRecord | None:
    with sessions() as session:
        return session.scalar(select(AlarmRecord).where(AlarmRecord.condition == "status_overdue"))
