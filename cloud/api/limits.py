"""A cap on the size of request bodies, before any of it is parsed or held in memory.

No API request needs more than a few kilobytes, except a card import (a CSV of a whole estate's
cards). Without a cap, one client could make the server buffer and parse a body of any size. A
declared Content-Length over the limit is refused at once, unread; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit, so an oversized body is
never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
DEFAULT_LIMIT = 1 * MIB
# Routes allowed more, by exact path: the card CSV import.
LARGER_LIMITS: Mapping[str, int] = {"/api/cards/import": 10 * MIB}


def describe(limit: int) -> str:
    size = f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"
    return f"the request body is larger than this route's limit of {size} ({limit} bytes)"


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over its route's limit."""

    def __init__(
        self,
        app: ASGIApp,
        default: int = DEFAULT_LIMIT,
        larger: Mapping[str, int] = LARGER_LIMITS,
    ) -> None:
        self.app = app
        self.default = default
        self.larger = dict(larger)

    def limit_for(self, path: str) -> int:
        return self.larger.get(path.rstrip("/") or "/", self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised into whatever is reading the body: FastAPI and the routes pass an
                    # HTTPException through to the app's handler, which answers 413.
                    raise HTTPException(413, describe(limit))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except HTTPException as exc:
            # Read outside a route (no handler turned it into a response): answer here if we can.
            if exc.status_code != 413 or started:
                raise
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # malformed: the server refuses it, or the body gets counted
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": describe(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The unread rest of the body would otherwise be taken for the next request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
