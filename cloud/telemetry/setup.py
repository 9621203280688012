"""Choose the telemetry store from the settings and run its background jobs (drain or downsample)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from cloud.periodic import Periodic
from cloud.settings import CloudSettings
from cloud.telemetry import TelemetryReader, TelemetrySink
from cloud.telemetry.embedded import Downsampler, EmbeddedSink, SqlTelemetryReader
from cloud.telemetry.influx import CircuitBreaker, Drainer, InfluxConfig, InfluxSink, InfluxWriter
from cloud.telemetry.influx_reader import InfluxTelemetryReader
from sitewatch.siteconfig import Site

log = logging.getLogger(__name__)

DRAIN_EVERY_S = 1.0


@dataclass
class Telemetry:
    """The sink ingest writes to, the reader the API reads from, and the jobs behind them."""

    sink: TelemetrySink
    reader: TelemetryReader
    jobs: list[Periodic] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    description: str = ""

    def start(self) -> None:
        log.info("telemetry: %s", self.description)
        for job in self.jobs:
            job.start()

    def stop(self) -> None:
        for job in self.jobs:
            job.stop()
        for close in self.closers:
            close()


def influx_config(settings: CloudSettings) -> InfluxConfig | None:
    if not (settings.influx_url and settings.influx_token):
        return None
    assert settings.influx_org and settings.influx_bucket  # the settings check all four
    return InfluxConfig(
        url=settings.influx_url,
        token=settings.influx_token.get_secret_value(),
        org=settings.influx_org,
        bucket=settings.influx_bucket,
        timeout_s=settings.influx_timeout_s,
    )


def from_settings(
    settings: CloudSettings, sessions: sessionmaker[Session], sites: dict[str, Site]
) -> Telemetry:
    """InfluxDB when its settings are given (with parking and a drain job), else the embedded
    tables (with the downsampler job)."""
    config = influx_config(settings)
    if config is None:
        downsampler = Downsampler(sessions, raw_hours=settings.telemetry_raw_hours)
        return Telemetry(
            sink=EmbeddedSink(),
            reader=SqlTelemetryReader(sessions),
            jobs=[
                Periodic(
                    "sitewatch-downsampler", settings.telemetry_downsample_every_s, downsampler.run
                )
            ],
            description=f"embedded tables, raw for {settings.telemetry_raw_hours:g} h "
            "then 1-minute min/avg/max",
        )
    # Ingest and the drainer each have their own client: neither waits on the other's request.
    writer, drain_writer = InfluxWriter(config, sites), InfluxWriter(config, sites)
    breaker = CircuitBreaker(open_s=settings.influx_park_s)
    reader = InfluxTelemetryReader(config)
    drainer = Drainer(sessions, drain_writer, breaker)
    return Telemetry(
        sink=InfluxSink(writer, breaker),
        reader=reader,
        jobs=[Periodic("sitewatch-influx-drain", DRAIN_EVERY_S, drainer.run)],
        closers=[writer.close, drain_writer.close, reader.close],
        description=f"InfluxDB at {config.url}, bucket {config.bucket} (parked while it fails)",
    )
