"""The test accounts: one user of each role, with a known password and a known API token, put in
every test database. Only their hashes are stored, as for real accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.auth.accounts import HASHER, digest
from cloud.auth.roles import Role
from cloud.auth.tables import ApiTokenRecord, UserRecord

PASSWORD = "correct horse battery staple"
_HASH = HASHER.hash(PASSWORD)  # once per run: Argon2 is slow on purpose
USERS = {
    Role.ADMIN: ("wangfang", "王芳"),
    Role.OPERATOR: ("zhaomin", "赵敏"),
    Role.GUARD: ("zhangwei", "张伟"),
    Role.ENGINEER: ("ligong", "李工"),
    Role.PARKING: ("liuyang", "刘洋"),
    Role.MANAGER: ("chenjl", "陈经理"),
}


def token(role: Role) -> str:
    return f"sw_test_{role.value}"


def headers(role: Role = Role.ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role)}"}


# Most tests act as 王芳, an admin: she may do everything, and records name her.
OPERATOR = headers(Role.ADMIN)


def seed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        if session.scalar(select(UserRecord.id).limit(1)) is not None:
            return
        for role, (username, name) in USERS.items():
            user = UserRecord(username=username, name=name, role=role.value, password_hash=_HASH)
            session.add(user)
            session.flush()
            session.add(
                ApiTokenRecord(
                    name=f"test-{role.value}",
                    token_hash=digest(token(role)),
                    user_id=user.id,
                    scopes=[role.value],
                )
            )
