"""Accounts and their secrets: create users, check passwords (with login throttling), open and
close console sessions, mint and revoke API tokens, and resolve either to a `Principal`."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.roles import Role
from cloud.auth.tables import ApiTokenRecord, LoginFailure, SessionRecord, UserRecord

HASHER = PasswordHasher()
SESSION_HOURS = 12  # a control-room shift and then some
FREE_FAILURES = 3  # failed logins in a row before each next try must wait
MAX_WAIT_S = 300
MIN_PASSWORD = 10
TOKEN_PREFIX = "sw_"


class AuthError(ValueError):
    """A refusal whose message is safe to show (it never says which of name or password)."""


class Throttled(AuthError):
    def __init__(self, wait_s: int) -> None:
        super().__init__(f"too many failed logins: try again in {wait_s} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user through a console session, or through one of their API tokens."""

    user_id: int
    username: str
    name: str
    roles: frozenset[Role]
    via: str  # session, token
    csrf: str | None = None  # a session's: state-changing requests must echo it
    token: str | None = None  # a token's name, for the audit trail

    @property
    def signature(self) -> str:
        """How records name who acted: the account's person, also through their API tokens
        (a token is theirs to answer for; which one was used is in the server's access log)."""
        return self.name


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    session: Session, username: str, name: str, role: Role, password: str
) -> UserRecord:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password has at least {MIN_PASSWORD} characters")
    if session.scalar(select(UserRecord).where(UserRecord.username == username)) is not None:
        raise AuthError(f"user {username!r} already exists")
    user = UserRecord(
        username=username, name=name, role=role.value, password_hash=HASHER.hash(password)
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: UserRecord, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password has at least {MIN_PASSWORD} characters")
    user.password_hash = HASHER.hash(password)


def _wait(session: Session, key: str, now: datetime) -> int:
    failure = session.get(LoginFailure, key)
    if failure is None or failure.count < FREE_FAILURES:
        return 0
    wait = min(2 ** (failure.count - FREE_FAILURES), MAX_WAIT_S)
    left = wait - (now - failure.last_at).total_seconds()
    return max(0, int(left + 0.999))


def _failed(session: Session, key: str, now: datetime) -> None:
    failure = session.get(LoginFailure, key)
    if failure is None:
        session.add(LoginFailure(key=key, count=1, last_at=now))
    else:
        failure.count, failure.last_at = failure.count + 1, now


def check_password(
    session: Session, username: str, password: str, client: str, now: datetime
) -> UserRecord:
    """The user, if the password is right. Failures in a row, per name and per client address,
    make each next attempt wait longer; the caller must commit even when this raises."""
    keys = [f"user:{username.lower()}", f"client:{client}"]
    wait = max(_wait(session, key, now) for key in keys)
    if wait:
        raise Throttled(wait)
    user = session.scalar(select(UserRecord).where(UserRecord.username == username))
    try:
        ok = user is not None and user.active and HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        for key in keys:
            _failed(session, key, now)
        raise AuthError("wrong user name or password")
    for key in keys:
        found = session.get(LoginFailure, key)
        if found is not None:
            session.delete(found)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return user


def open_session(session: Session, user: UserRecord, now: datetime) -> tuple[str, SessionRecord]:
    token = secrets.token_urlsafe(32)
    record = SessionRecord(
        token_hash=digest(token),
        user_id=user.id,
        csrf=secrets.token_urlsafe(24),
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    session.add(record)
    session.flush()
    return token, record


def end_session(session: Session, token: str, now: datetime) -> None:
    record = session.scalar(select(SessionRecord).where(SessionRecord.token_hash == digest(token)))
    if record is not None and record.ended_at is None:
        record.ended_at = now


def _principal(
    user: UserRecord, via: str, roles: frozenset[Role], **extra: str | None
) -> Principal:
    return Principal(user.id, user.username, user.name, roles, via, **extra)  # type: ignore[arg-type]


def from_session(session: Session, token: str, now: datetime) -> Principal | None:
    record = session.scalar(select(SessionRecord).where(SessionRecord.token_hash == digest(token)))
    if record is None or record.ended_at is not None or record.expires_at <= now:
        return None
    user = session.get(UserRecord, record.user_id)
    if user is None or not user.active:
        return None
    return _principal(user, "session", frozenset({Role(user.role)}), csrf=record.csrf)


def mint_token(
    session: Session, user: UserRecord, name: str, scopes: list[Role]
) -> tuple[str, ApiTokenRecord]:
    """A new token; its plain text is returned once and never stored."""
    held = Role(user.role)
    if held is not Role.ADMIN and any(scope is not held for scope in scopes):
        raise AuthError(f"a {held.value} can only give a token the scope {held.value}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiTokenRecord(
        name=name, token_hash=digest(token), user_id=user.id, scopes=sorted(s.value for s in scopes)
    )
    session.add(record)
    session.flush()
    return token, record


def from_token(session: Session, token: str, now: datetime) -> Principal | None:
    record = session.scalar(
        select(ApiTokenRecord).where(ApiTokenRecord.token_hash == digest(token))
    )
    if record is None or record.revoked_at is not None:
        return None
    user = session.get(UserRecord, record.user_id)
    if user is None or not user.active:
        return None
    scopes = frozenset(Role(scope) for scope in record.scopes)
    if Role(user.role) is not Role.ADMIN:
        scopes &= {Role(user.role)}  # never more than its owner may do today
    return _principal(user, "token", scopes, token=record.name)
