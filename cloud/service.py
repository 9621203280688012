"""Run the cloud: schema migration, ingest worker, retention, HTTP server, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import uvicorn

from cloud.alarms.feed import AlarmFeed
from cloud.alarms.watch import AlarmWatcher
from cloud.app import create_app
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import Ingest
from cloud.retention import retention_job
from cloud.settings import CloudSettings
from cloud.telemetry import setup as telemetry_setup
from sitewatch.broker import BrokerAddress
from sitewatch.configload import load_site
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)


def load_sites(paths: list[Path]) -> dict[str, Site]:
    sites = [load_site(path) for path in paths]
    return {site.id: site for site in sites}


class CloudService:
    """Owns the engine, the ingest worker and the uvicorn server; `run()` until cancelled."""

    def __init__(self, settings: CloudSettings, sites: dict[str, Site] | None = None) -> None:
        self.settings = settings
        self.sites = sites if sites is not None else load_sites(settings.site_files)
        self.engine = make_engine(settings.db_url)
        # The embedded default needs no separate step: an older schema is upgraded in place.
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.feed = AlarmFeed()
        self.telemetry = telemetry_setup.from_settings(settings, self.sessions, self.sites)
        self.ingest: Ingest | None = None
        if settings.ingest:
            self.ingest = Ingest(
                self.sites,
                self.sessions,
                BrokerAddress.parse(settings.mqtt_url),
                client_id=settings.client_id,
                ack_interval_s=settings.ack_interval_s,
                lanes=settings.ingest_lanes,
                feed=self.feed,
                telemetry=self.telemetry.sink,
                share_group=settings.share_group,
            )
        # Other processes change alarms too when ingest is shared or elsewhere: look for them.
        self.watcher = (
            AlarmWatcher(self.sessions, self.feed).job()
            if settings.share_group is not None or not settings.ingest
            else None
        )
        self.retention = retention_job(
            self.sessions, settings.retention, settings.retention_every_h * 3600
        )
        self.app = create_app(
            self.sessions,
            self.sites,
            self.ingest,
            feed=self.feed,
            max_shelve_minutes=settings.max_shelve_minutes,
            secure_cookies=settings.secure_cookies,
        )
        self.app.state.telemetry = self.telemetry.reader  # read by /api/points/.../series
        config = uvicorn.Config(
            self.app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            lifespan="off",
            # Open consoles hold a live stream each: do not wait on them to stop.
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        # We own signal handling (Ctrl-C stops the whole demo, not just the web server).
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        servers = getattr(self.server, "servers", [])
        if servers and servers[0].sockets:
            host, port = servers[0].sockets[0].getsockname()[:2]
            return f"http://{host}:{port}"
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    async def started(self) -> None:
        """Wait until the HTTP server is accepting connections."""
        while not self.server.started:
            await asyncio.sleep(0.02)

    async def run(self) -> None:
        self.telemetry.start()
        self.retention.start()
        for part in (self.ingest, self.watcher):
            if part is not None:
                part.start()
        serving = asyncio.create_task(self.server.serve())
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            self.feed.close()  # open consoles' streams end, so the server can stop at once
            self.server.should_exit = True
            await serving
            raise
        finally:
            for part in (self.watcher, self.ingest):
                if part is not None:
                    part.stop()
            self.retention.stop()
            self.telemetry.stop()
            self.engine.dispose()
