"""Card records in the cloud: issuing, edits that never touch dates, lost cards, suspension,
extensions that issue a new pass, CSV import with per-row errors, and the list the gates get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.gates import cards
from cloud.gates.cardlist import card_list
from cloud.gates.fields import CardFields
from cloud.gates.importer import import_cards
from cloud.gates.tables import CardEventRecord, CardRecord
from sitewatch import wire
from sitewatch.siteconfig import Site

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
BY = "王芳"


def resident(card: str = "0A00BC614E", **extra: object) -> CardFields:
    return CardFields.model_validate(
        {"card": card, "holder": "陈先生", "unit": "3-1502", "plates": ["粤B12345"],
         "type": "resident", **extra}
    )  # fmt: skip


def entry(session: Session, site: Site, number: str) -> wire.CardEntry:
    listed = card_list(session, site, "gate")
    assert listed is not None
    return next(c for c in listed.cards if c.card == number)


def test_a_card_is_issued_once_and_listed_for_the_gate(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    with sessions.begin() as session:
        card = cards.issue(session, example_site, resident("0a00bc614e"), BY)
        assert card.card == "0A00BC614E"  # as the readers report it
        with pytest.raises(cards.CardRefused, match="already issued \\(one card, one car\\)"):
            cards.issue(session, example_site, resident(), BY)
        listed = card_list(session, example_site, "gate")
    assert listed is not None and listed.version == 1
    assert listed.cards == [
        wire.CardEntry(card="0A00BC614E", type="resident", status="active")  # type: ignore[arg-type]
    ]


def test_dates_are_never_edited_and_other_fields_are(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    pass_fields = resident(type="temporary", valid_until=datetime(2027, 3, 1))
    with sessions.begin() as session:
        card = cards.issue(session, example_site, pass_fields, BY)
        with pytest.raises(cards.CardRefused, match=r"never edited .*extend the pass"):
            cards.edit(session, example_site, card.id, {"valid_until": NOW}, BY)
        with pytest.raises(cards.CardRefused, match="type cannot be changed"):
            cards.edit(session, example_site, card.id, {"type": "resident"}, BY)
        cards.edit(session, example_site, card.id, {"holder": "陈女士", "plates": ["粤B54321"]}, BY)
        assert (card.holder, card.plates) == ("陈女士", ["粤B54321"])
        # Local dates are the site's: 1 March 00:00 in Shanghai.
        assert card.valid_until == datetime(2027, 2, 28, 16, 0, tzinfo=UTC)


def test_a_temporary_pass_needs_its_validity_window() -> None:
    with pytest.raises(ValueError, match="a temporary pass needs valid_until"):
        resident(type="temporary")


def test_a_lost_card_is_blocked_in_a_new_list_version_and_stays_blocked(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    with sessions.begin() as session:
        card = cards.issue(session, example_site, resident(), BY)
        cards.report_lost(session, example_site, card.id, BY, NOW, "lost in the lift")
        assert (card.status, card.reported_lost_at, card.lost_in_version) == ("lost", NOW, 2)
        assert entry(session, example_site, "0A00BC614E").status is wire.CardStatus.LOST
        with pytest.raises(cards.CardRefused, match="a lost card stays blocked"):
            cards.set_suspended(session, example_site, card.id, False, BY)
        events = session.scalars(select(CardEventRecord.event).order_by(CardEventRecord.id))
        assert list(events) == ["issued", "reported_lost"]


def test_suspension_and_reactivation(sessions: sessionmaker[Session], example_site: Site) -> None:
    with sessions.begin() as session:
        card = cards.issue(session, example_site, resident(), BY)
        cards.set_suspended(session, example_site, card.id, True, BY, "arrears")
        assert entry(session, example_site, card.card).status is wire.CardStatus.SUSPENDED
        cards.set_suspended(session, example_site, card.id, False, BY)
        assert entry(session, example_site, card.card).status is wire.CardStatus.ACTIVE


def test_an_extension_issues_a_new_pass_and_expires_the_old_one(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    until = datetime(2027, 3, 1, tzinfo=UTC)
    with sessions.begin() as session:
        old = cards.issue(session, example_site, resident(type="temporary", valid_until=until), BY)
        new = cards.extend(session, example_site, old.id, until + timedelta(days=90), BY, NOW)
        assert (old.status, old.valid_until) == ("expired", until)  # the old pass as it was
        assert (new.card, new.replaces_id, new.valid_from) == (old.card, old.id, NOW)
        assert new.valid_until == until + timedelta(days=90)
        listed = entry(session, example_site, old.card)  # the live pass wins over the old
        assert (listed.status, listed.valid_until) == (
            wire.CardStatus.ACTIVE,
            int((until + timedelta(days=90)).timestamp() * 1000),
        )
        with pytest.raises(cards.CardRefused, match="only an active pass is extended"):
            cards.extend(session, example_site, old.id, until + timedelta(days=200), BY, NOW)


def test_csv_import_takes_the_good_rows_and_names_each_bad_one(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    text = (
        "\ufeffcard,holder,unit,plates,type,valid_from,valid_until,lanes,notes\n"
        "0A00BC614E,陈先生,3-1502,粤B12345,resident,,,,\n"
        "W26:12:34567,装修工 李,5-0801,,temporary,2026-12-01,2027-03-01,lane-in,装修\n"
        "BAD CARD,x,,,resident,,,,\n"
        "0A00BC614E,重复,,,resident,,,,\n"
        "11223344,访客,,,visitor,,,,\n"
        "55667788,某人,,,resident,,,lane-9,\n"
        "99AABBCC,某人,,,resident,yesterday,,,\n"
    )
    with sessions.begin() as session:
        result = import_cards(session, example_site, text, BY)
    assert len(result.imported) == 2
    errors = {error.line: error.message for error in result.errors}
    assert sorted(errors) == [4, 5, 6, 7, 8]
    assert "card: String should match pattern" in errors[4]
    assert "already issued" in errors[5]
    assert "a visitor pass needs valid_until" in errors[6]
    assert "lane(s) lane-9 not configured" in errors[7]
    assert "a date is not YYYY-MM-DD" in errors[8]
    with sessions() as session:
        renovation = session.scalar(select(CardRecord).where(CardRecord.card == "W26:12:34567"))
        assert renovation is not None and renovation.lanes == ["lane-in"]
        # A date alone as the end date means through that day (site time).
        assert renovation.valid_until == datetime(2027, 3, 1, 15, 59, 59, tzinfo=UTC)


def test_a_csv_without_the_needed_columns_is_refused_as_a_whole(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    with sessions.begin() as session:
        result = import_cards(session, example_site, "number,name\n1,a\n", BY)
    assert result.imported == []
    assert result.errors[0].message.startswith("the header lacks column(s) card, holder, type")


def _gate_holds(sessions: sessionmaker[Session], site: Site, version: int, seq: int) -> None:
    """The gate node's heartbeat: it decides from card list `version`."""
    beat = wire.Event(
        site=site.id,
        node="gate",
        stream="cccccccc00000001",
        seq=seq,
        boot=1,
        ts=1_000 * seq,
        items=[wire.Heartbeat(ts=1_000 * seq, cards_version=version)],
    )
    with sessions.begin() as session:
        store.apply_one(session, {site.id: site}, beat)


def test_a_gate_holding_a_newer_list_than_a_restored_database_is_sent_the_databases_above_it(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    # The database was restored from a backup taken at v2; the gate has since loaded v7.
    with sessions.begin() as session:
        cards.issue(session, example_site, resident(), BY)
        cards.issue(session, example_site, resident("0B00000001", unit="5-0101"), BY)
    _gate_holds(sessions, example_site, 7, seq=1)
    with sessions() as session:
        listed = card_list(session, example_site, "gate")
    assert listed is not None and listed.version == 8, "above the gate's, which takes only higher"
    assert sorted(c.card for c in listed.cards) == ["0A00BC614E", "0B00000001"]

    _gate_holds(sessions, example_site, 8, seq=2)  # it loaded it
    with sessions() as session:
        assert cards.latest_version(session, example_site.id) == 8


def test_a_database_without_a_card_list_leaves_the_gates_lists_alone(
    sessions: sessionmaker[Session], example_site: Site
) -> None:
    # A new or wrong database must not send the gates an empty list.
    _gate_holds(sessions, example_site, 7, seq=1)
    with sessions() as session:
        assert cards.latest_version(session, example_site.id) == 0
        assert card_list(session, example_site, "gate") is None
