"""Logging in and out of the console, who am I, and the accounts and API tokens (admins only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from cloud.api.deps import IdPath, SessionDep
from cloud.api.security import CSRF_COOKIE, EVERYONE, SESSION_COOKIE, PrincipalDep, allow
from cloud.auth import accounts
from cloud.auth.roles import Role
from cloud.auth.tables import ApiTokenRecord, UserRecord
from cloud.models import utcnow

router = APIRouter(prefix="/api/auth", tags=["auth"])
ADMIN = allow(Role.ADMIN)
PUBLIC = {"openapi_extra": {"x-roles": ["public"]}}


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    username: str
    name: str
    roles: list[str]
    via: str
    csrf: str | None = Field(description="echo it in X-CSRF-Token on every change (sessions)")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = Field(min_length=1, max_length=120, description="as records and the audit show it")
    role: Role
    password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=200)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=accounts.MIN_PASSWORD, max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    name: str
    role: str
    active: bool
    created_at: datetime


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    # At most one of each role; a longer list can only repeat them.
    scopes: list[Role] = Field(
        min_length=1, max_length=len(Role), description="the roles the token may act as"
    )
    username: str | None = Field(
        default=None, min_length=1, max_length=64, description="whose token; default: yours"
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="shown once: only its hash is kept")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login", response_model=Me, summary="Log in to the console (sets the session cookie)", **PUBLIC
)
def login(request: Request, response: Response, session: SessionDep, body: LoginIn) -> Me:
    now = utcnow()
    try:
        user = accounts.check_password(session, body.username, body.password, _client(request), now)
    except accounts.Throttled as exc:
        session.commit()
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.wait_s)}) from None
    except accounts.AuthError as exc:
        session.commit()  # the failure counts: the next attempt is slowed
        raise HTTPException(401, str(exc)) from None
    token, record = accounts.open_session(session, user, now)
    session.commit()
    secure = request.app.state.secure_cookies
    age = accounts.SESSION_HOURS * 3600
    response.set_cookie(
        SESSION_COOKIE, token, max_age=age, httponly=True, secure=secure, samesite="strict"
    )
    response.set_cookie(
        CSRF_COOKIE, record.csrf, max_age=age, httponly=False, secure=secure, samesite="strict"
    )
    return Me(
        username=user.username, name=user.name, roles=[user.role], via="session", csrf=record.csrf
    )


@router.post("/logout", status_code=204, summary="Log out: the session ends at once", **EVERYONE)
def logout(request: Request, response: Response, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(session, token, utcnow())
        session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/me", response_model=Me, summary="Who am I", **EVERYONE)
def me(principal: PrincipalDep) -> Me:
    return Me(
        username=principal.username,
        name=principal.name,
        roles=sorted(principal.roles),
        via=principal.via,
        csrf=principal.csrf,
    )


@router.get("/users", response_model=list[UserOut], summary="Accounts", **ADMIN)
def users(session: SessionDep) -> list[UserOut]:
    return [
        UserOut.model_validate(u)
        for u in session.scalars(select(UserRecord).order_by(UserRecord.id))
    ]


@router.post("/users", response_model=UserOut, status_code=201, summary="Add an account", **ADMIN)
def add_user(session: SessionDep, body: UserIn) -> UserOut:
    try:
        user = accounts.create_user(session, body.username, body.name, body.role, body.password)
    except accounts.AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    return UserOut.model_validate(user)


@router.patch(
    "/users/{user_id}", response_model=UserOut, summary="Change a role, disable, reset", **ADMIN
)
def change_user(session: SessionDep, user_id: IdPath, body: UserChange) -> UserOut:
    user = session.get(UserRecord, user_id)
    if user is None:
        raise HTTPException(404, f"user {user_id} does not exist")
    demoted = body.role is not None and body.role is not Role.ADMIN
    if user.role == Role.ADMIN.value and user.active and (demoted or body.active is False):
        others = session.scalar(
            select(func.count())
            .select_from(UserRecord)
            .where(
                UserRecord.role == Role.ADMIN.value,
                UserRecord.active.is_(True),
                UserRecord.id != user.id,
            )
        )
        if not others:
            raise HTTPException(409, "this is the last active admin: make another admin first")
    if body.role is not None:
        user.role = body.role.value
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        accounts.set_password(user, body.password)
    session.commit()
    return UserOut.model_validate(user)


@router.get(
    "/tokens", response_model=list[TokenOut], summary="API tokens (never their secret)", **ADMIN
)
def tokens(session: SessionDep) -> list[TokenOut]:
    found = session.scalars(select(ApiTokenRecord).order_by(ApiTokenRecord.id))
    return [TokenOut.model_validate(t) for t in found]


@router.post(
    "/tokens", response_model=NewToken, status_code=201, summary="Make an API token", **ADMIN
)
def make_token(session: SessionDep, principal: PrincipalDep, body: TokenIn) -> NewToken:
    owner = session.scalar(
        select(UserRecord).where(UserRecord.username == (body.username or principal.username))
    )
    if owner is None:
        raise HTTPException(404, f"user {body.username!r} does not exist")
    try:
        token, record = accounts.mint_token(session, owner, body.name, body.scopes)
    except accounts.AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    return NewToken(**TokenOut.model_validate(record).model_dump(), token=token)


@router.delete(
    "/tokens/{token_id}", response_model=TokenOut, summary="Revoke an API token", **ADMIN
)
def revoke_token(session: SessionDep, token_id: IdPath) -> TokenOut:
    record = session.get(ApiTokenRecord, token_id)
    if record is None:
        raise HTTPException(404, f"token {token_id} does not exist")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.commit()
    return TokenOut.model_validate(record)
