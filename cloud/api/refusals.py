"""Routes that exist only to refuse: a legal record (a duty-log entry, a handover, a signed
inspection) is never changed, and asking to change one gets 405 with what to do instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException

CHANGES = ("PATCH", "PUT", "DELETE")


def never_changed(message: str) -> HTTPException:
    return HTTPException(405, message, headers={"Allow": "GET"})


def refuse_changes(
    router: APIRouter, path: str, endpoint: Callable[..., Any], message: str, **route: Any
) -> None:
    """Register `endpoint` (which raises `never_changed(message)`) for PATCH, PUT and DELETE on
    `path`, each its own operation in the OpenAPI; `route` holds the roles (`allow(...)`)."""
    for method in CHANGES:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=405,
            operation_id=f"{endpoint.__name__}_{method.lower()}",
            summary=f"Refused: {message.split(';')[0].split(':')[0]}",
            responses={405: {"description": message}},
            **route,
        )
