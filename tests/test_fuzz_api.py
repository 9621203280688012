"""Schemathesis against the cloud's own OpenAPI, in process: no request may make the API fail (5xx),
and what it answers must match the schema it publishes.

The app runs on a migrated database holding the example site's records (an alarm, patrol taps, a
gate pass, a card), and generated path and query parameters often name what exists (the site, its
nodes, devices, rooms, lanes, shifts, small ids), so requests get past the 404s into the code that
handles real records. Every request carries the admin's token, so each operation is reachable.

Bounded for CI: `MAX_EXAMPLES` per operation (about 1.5 minutes in all). It runs on SQLite only: on PostgreSQL every example
costs several round trips and the run takes minutes (the routes' SQL is shared, and the other API
tests cover PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud import store
from cloud.app import create_app
from cloud.auth.accounts import digest
from cloud.auth.roles import Role
from cloud.auth.tables import ApiTokenRecord, UserRecord
from cloud.db import make_engine, migrate, session_factory
from cloud.models import utcnow
from sitewatch import wire
from sitewatch.configload import load_site
from sitewatch.siteconfig import Site
from tests.conftest import EXAMPLE_SITE
from tests.db import sqlite_url
from tests.users import USERS, headers, token
from tests.users import seed as seed_users

# Per operation: generated valid requests, and requests made invalid on purpose (fewer: most
# stop at validation).
MAX_EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
ADMIN = headers(Role.ADMIN)
SITE = "harbour-view"
STREAM = "fuzzfuzzfuzz0001"

# Values that exist in the example site, by parameter name: generated ones mostly miss.
_MONDAYS = [(date.today() - timedelta(days=date.today().weekday() + 7 * n)) for n in range(3)]
KNOWN: dict[str, list[Any]] = {
    "site": [SITE],
    "node": ["pumproom", "gate", "patrol-north"],
    "device": ["pumproom-leak", "supply-pressure", "fire-pump-1", "gate-relays"],
    "point": ["zone1", "pressure", "running", "relay1"],
    "room": ["pumproom-b2"],
    "monday": [d.isoformat() for d in _MONDAYS],
    "day": [date.today().isoformat(), _MONDAYS[0].isoformat()],
    "shift": ["day", "evening", "night"],
    "lane": ["lane-in", "lane-out"],
    "route": ["north-tower", "basement"],
    "name": ["pressure", "jockey"],
    "action": ["suspend", "reactivate"],
}
# Ids of records the fixture makes (and the fuzzing itself makes more of).
_IDS = ("alarm_id", "user_id", "token_id", "tour_id", "card_id", "entry_id", "handover_id")
KNOWN.update({name: [1, 2, 3] for name in _IDS})


def _known_or_generated(values: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    """Each parameter keeps its generated value or, as often, takes one that exists."""
    if not values:
        return st.just(values)
    return st.fixed_dictionaries(
        {
            key: st.one_of(st.just(value), st.sampled_from(KNOWN[key]))
            if key in KNOWN
            else st.just(value)
            for key, value in values.items()
        }
    )


def _seed_records(sessions: sessionmaker[Session], site: Site) -> None:
    """An alarm, a low pressure, a patrol tap at a checkpoint and a refused gate pass, each
    applied through the real store as its node would send it."""
    now = wire.now_ms()
    by_node: dict[str, list[Any]] = {
        "pumproom": [
            wire.PointValue(device="pumproom-leak", point="zone1", value=True, ts=now),
            wire.PointValue(device="supply-pressure", point="pressure", value=0.2, ts=now),
        ],
        "patrol-north": [
            wire.CardTap(reader="cp-power-room", card="04A1B2C3", format="nfc", ts=now)
        ],
        "gate": [
            wire.GatePass(
                lane="lane-in",
                direction="in",
                card="W26:1:2",
                allowed=False,
                reason=wire.GateReason.UNKNOWN,
                ts=now,
            )
        ],
    }
    for node, items in by_node.items():
        message = wire.Event(
            site=SITE, node=node, stream=STREAM, seq=1, boot=1, ts=now, items=items
        )
        with sessions.begin() as session:
            store.apply_one(session, {SITE: site}, message)


def _restore_admin(sessions: sessionmaker[Session]) -> None:
    """Undo what a generated request may do to the admin it runs as: disable or demote 王芳, or
    revoke her token. (Allowed, and then every later request would be a 401 that tests nothing.)"""
    username = USERS[Role.ADMIN][0]
    with sessions.begin() as session:
        session.execute(
            update(UserRecord)
            .where(UserRecord.username == username)
            .values(active=True, role=Role.ADMIN.value)
        )
        session.execute(
            update(ApiTokenRecord)
            .where(ApiTokenRecord.token_hash == digest(token(Role.ADMIN)))
            .values(revoked_at=None, scopes=[Role.ADMIN.value])
        )


class _Broker:
    """Takes every command, so the routes that send one run to the end (without a broker they
    answer 503 on purpose, which is not what this looks for)."""

    def send_command(self, site: str, node: str, name: str, args: dict[str, Any]) -> bool:
        return True


@pytest.fixture(scope="module")
def fuzz_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url(Path(tmp_path_factory.mktemp("fuzz-api"))))
    migrate(engine)
    sessions = session_factory(engine)
    seed_users(sessions)
    yield sessions
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_sessions: sessionmaker[Session], example_site: Site) -> FastAPI:
    _seed_records(fuzz_sessions, example_site)
    return create_app(fuzz_sessions, {SITE: example_site}, commands=_Broker(), secure_cookies=False)


def _load_schema() -> Any:
    """The OpenAPI as the app publishes it (it does not depend on the database)."""
    app = create_app(None, {SITE: load_site(EXAMPLE_SITE)})  # type: ignore[arg-type]
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.hook("flatmap_path_parameters")(lambda _ctx, values: _known_or_generated(values))
    loaded.hook("flatmap_query")(lambda _ctx, values: _known_or_generated(values))
    return loaded


SCHEMA = _load_schema()
# The live feed never ends by itself (tests/test_alarm_api.py covers it).
SKIPPED = {"GET /api/stream"}
OPERATIONS = [
    result.ok() for result in SCHEMA.get_all_operations() if result.ok().label not in SKIPPED
]
# Negative data needs something to make invalid: a parameter or a body.
CASES = [
    pytest.param(op.label, mode, id=f"{op.label}-{mode.value}")
    for op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or list(op.iter_parameters()) or len(op.body)
]
CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_request_makes_the_api_fail(
    label: str, mode: GenerationMode, fuzz_app: FastAPI, fuzz_sessions: sessionmaker[Session]
) -> None:
    operation = SCHEMA.find_operation_by_label(label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _restore_admin(fuzz_sessions)
        case.call_and_validate(app=fuzz_app, headers=ADMIN, checks=CHECKS)

    run()


def test_the_admin_token_is_restored(fuzz_sessions: sessionmaker[Session]) -> None:
    """What keeps the run meaningful: a request that revoked the admin's token is undone."""
    with fuzz_sessions.begin() as session:
        session.execute(update(ApiTokenRecord).values(revoked_at=utcnow()))
    _restore_admin(fuzz_sessions)
    with fuzz_sessions() as session:
        revoked = session.scalar(
            select(ApiTokenRecord.revoked_at).where(
                ApiTokenRecord.token_hash == digest(token(Role.ADMIN))
            )
        )
    assert revoked is None
