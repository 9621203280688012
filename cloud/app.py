"""Build the FastAPI application around a session factory and the configured sites."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cloud.alarms.feed import AlarmFeed
from cloud.api import (
    alarms,
    auth,
    cards,
    console,
    duty,
    equipment,
    gaps,
    gates,
    inspection,
    nodes,
    patrol,
    stream,
    telemetry,
)
from cloud.api.errors import publish_true_errors
from cloud.api.limits import BodySizeLimit
from sitewatch import __version__
from sitewatch.siteconfig import Site


class CommandSender(Protocol):
    def send_command(self, site: str, node: str, name: str, args: dict[str, Any]) -> bool: ...


def create_app(
    sessions: sessionmaker[Session],
    sites: dict[str, Site],
    commands: CommandSender | None = None,
    feed: AlarmFeed | None = None,
    max_shelve_minutes: int = 480,
    secure_cookies: bool = True,
) -> FastAPI:
    app = FastAPI(
        title="Sitewatch cloud API",
        version=__version__,
        description="Alarms, nodes and points of the sites this control centre watches.",
    )
    app.state.sessions = sessions
    app.state.sites = sites
    app.state.commands = commands
    app.state.feed = feed if feed is not None else AlarmFeed()
    app.state.max_shelve_minutes = max_shelve_minutes
    app.state.secure_cookies = secure_cookies
    app.include_router(auth.router)
    app.include_router(alarms.router)
    app.include_router(nodes.router)
    app.include_router(gaps.router)
    app.include_router(stream.router)
    app.include_router(equipment.router)
    app.include_router(telemetry.router)
    app.include_router(patrol.router)
    app.include_router(cards.router)
    app.include_router(gates.router)
    app.include_router(duty.router)
    app.include_router(inspection.router)
    app.include_router(console.router)
    publish_true_errors(app)
    # Outermost: an oversized body is refused before anything reads it.
    app.add_middleware(BodySizeLimit)
    return app
