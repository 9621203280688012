"""Who is asking, and may they: every API route and console page declares the roles it admits.

A request is authenticated by an API token (`Authorization: Bearer sw_…`) or by the console's
session cookie; a state-changing request on a session must also echo the session's CSRF token in
the `X-CSRF-Token` header (the console reads it from the `sw_csrf` cookie). Each route's roles are
also written into the OpenAPI (`x-roles`), so the documentation and the checks are one list.
"""

from __future__ import annotations

from hmac import compare_digest
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from cloud.api.deps import SessionDep
from cloud.auth.accounts import Principal, from_session, from_token
from cloud.auth.roles import ALL, Role, allows
from cloud.models import utcnow

SESSION_COOKIE = "sw_session"
CSRF_COOKIE = "sw_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers=CHALLENGE)


def authenticate(request: Request, session: SessionDep) -> Principal:
    """The caller, from an API token or a session cookie; 401 if neither is valid."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    now = utcnow()
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("send an API token as 'Authorization: Bearer <token>'")
        principal = from_token(session, token.strip(), now)
        if principal is None:
            raise _unauthorized("the API token is unknown or revoked")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise _unauthorized("log in first, or send an API token (Authorization: Bearer …)")
        principal = from_session(session, cookie, now)
        if principal is None:
            raise _unauthorized("your session has ended: log in again")
        sent = request.headers.get(CSRF_HEADER, "")
        if request.method not in SAFE_METHODS and not compare_digest(sent, principal.csrf or ""):
            raise HTTPException(403, "the CSRF token is missing or wrong: reload the page")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


class Allow:
    """A dependency admitting the callers who hold one of `roles` (an admin always)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def __call__(self, principal: PrincipalDep) -> Principal:
        if not allows(self.roles, principal.roles):
            needed = ", ".join(sorted({*self.roles, Role.ADMIN}))
            held = ", ".join(sorted(principal.roles)) or "no scope"
            raise HTTPException(
                403, f"your role ({held}) may not do this; it needs one of: {needed}"
            )
        return principal


def allow(*roles: Role, openapi_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Route keyword arguments: the check, and the roles in the OpenAPI (`x-roles`)."""
    admitted = sorted({*roles, Role.ADMIN})
    return {
        "dependencies": [Depends(Allow(*roles))],
        "openapi_extra": {**(openapi_extra or {}), "x-roles": admitted},
    }


EVERYONE = allow(*ALL)


def page_viewer(request: Request, session: SessionDep) -> Principal | None:
    """Who opens a console page, as `authenticate` finds them; None for an anonymous visitor
    (or an ended session), whom the page sends to the login instead of answering 401."""
    try:
        return authenticate(request, session)
    except HTTPException as exc:
        if exc.status_code == 401:
            return None
        raise


PageViewerDep = Annotated[Principal | None, Depends(page_viewer)]
