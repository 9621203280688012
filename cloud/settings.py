"""Cloud settings, from SITEWATCH_* environment variables or the CLI (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SITEWATCH_", extra="forbid")

    db_url: str = Field(
        default="sqlite:///var/sitewatch.db",
        description="SQLAlchemy URL, e.g. sqlite:///var/sitewatch.db",
    )
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="the broker to ingest from")
    site_files: list[Path] = Field(
        default_factory=lambda: [Path("config/site.example.yaml")],
        description="site files whose nodes this cloud accepts",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    ack_interval_s: float = Field(
        default=1.0, gt=0, le=10, description="how often stored seq ranges are confirmed to edges"
    )
    client_id: str = Field(default="sw-cloud-1", description="MQTT client id of this worker")
    max_shelve_minutes: int = Field(
        default=480,
        ge=1,
        le=7 * 24 * 60,
        description="the longest an operator may shelve an alarm (default: one 8-hour shift)",
    )
