"""`sitewatch cloud ingest`: an ingest worker without the web server, one of several on a broker.

Workers share the messages through an MQTT 5 shared subscription and the state through one
PostgreSQL database; none of them holds anything another one needs. A worker that dies loses
only unconfirmed messages, which their edges send again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import Ingest
from cloud.service import load_sites
from cloud.settings import CloudSettings
from cloud.telemetry import setup as telemetry_setup
from sitewatch.broker import BrokerAddress
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)
DEFAULT_GROUP = "sitewatch"


def worker_client_id() -> str:
    """Unique per process: two clients with one id on a broker throw each other off."""
    return f"sw-ingest-{socket.gethostname()}-{os.getpid()}"[:64]


class IngestWorker:
    """Owns the engine and one Ingest; `run()` until cancelled."""

    def __init__(self, settings: CloudSettings, sites: dict[str, Site] | None = None) -> None:
        self.settings = settings
        self.sites = sites if sites is not None else load_sites(settings.site_files)
        self.engine = make_engine(settings.db_url)
        migrate(self.engine)  # several workers may start at once: one migrates, the rest wait
        self.group = settings.share_group or DEFAULT_GROUP
        sessions = session_factory(self.engine)
        self.telemetry = telemetry_setup.from_settings(settings, sessions, self.sites)
        self.ingest = Ingest(
            self.sites,
            sessions,
            BrokerAddress.parse(settings.mqtt_url),
            client_id=settings.client_id,
            ack_interval_s=settings.ack_interval_s,
            lanes=settings.ingest_lanes,
            share_group=self.group,
            telemetry=self.telemetry.sink,
        )

    async def run(self) -> None:
        self.telemetry.start()  # with several workers, drainers skip each other's rows
        self.ingest.start()
        log.info("ingest worker %s in share group %s", self.settings.client_id, self.group)
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(self.ingest.stop)
            self.telemetry.stop()
            self.engine.dispose()
