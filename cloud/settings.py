"""Cloud settings, from SITEWATCH_* environment variables or the CLI (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.retention import Retention


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SITEWATCH_", extra="forbid")

    db_url: str = Field(
        default="sqlite:///var/sitewatch.db",
        description="SQLAlchemy URL, e.g. sqlite:///var/sitewatch.db",
    )
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="the broker to ingest from: mqtt://[user:password@]host[:port], or mqtts:// "
        "for TLS",
    )
    # TLS to the broker (docs/security.md): only with an mqtts:// URL. They are folded into
    # mqtt_url's query (?ca_file=...), so that every place that reads the URL gets them.
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) the broker's certificate must chain to (mqtts:// only; "
        "default: the system's CAs)",
    )
    mqtt_cert_file: Path | None = Field(
        default=None, description="client certificate, for a broker that requires one"
    )
    mqtt_key_file: Path | None = Field(
        default=None, description="the client certificate's private key, unless in the same file"
    )
    site_files: list[Path] = Field(
        default_factory=lambda: [Path("config/site.example.yaml")],
        description="site files whose nodes this cloud accepts",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    ack_interval_s: float = Field(
        default=1.0, gt=0, le=10, description="how often stored seq ranges are confirmed to edges"
    )
    ingest_lanes: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="database writer threads of one ingest process, each with its own share of "
        "the nodes; unset: 2 on PostgreSQL, 1 on SQLite (one write lock for the whole file)",
    )
    client_id: str = Field(default="sw-cloud-1", description="MQTT client id of this worker")
    share_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="join this MQTT 5 shared subscription ($share/<group>/...) so that several "
        "workers split the messages; unset: this process takes them all",
    )
    ingest: bool = Field(
        default=True,
        description="`cloud run` also ingests; false: it serves the API and console only, for "
        "`cloud ingest` workers doing the ingest",
    )
    retention_alarm_days: int = Field(
        default=365, description="alarm and status records (GB 25506: at least 365)"
    )
    retention_alarm_records: int = Field(
        default=10_000, description="never fewer alarm and status records (GB 25506: 10,000)"
    )
    retention_access_days: int = Field(
        default=180, description="card taps, access events (GB 50396: at least 180)"
    )
    retention_log_days: int = Field(default=365, description="duty and patrol logs (a year)")
    retention_inspection_days: int = Field(
        default=1825, description="inspection and test records (five years)"
    )
    retention_every_h: float = Field(
        default=6.0, gt=0, le=168, description="how often the pruning job runs"
    )
    secure_cookies: bool = Field(
        default=True,
        description="console session cookies only over HTTPS (browsers also send them to "
        "http://localhost); set false only behind a TLS-terminating proxy on a trusted host",
    )
    max_shelve_minutes: int = Field(
        default=480,
        ge=1,
        le=7 * 24 * 60,
        description="the longest an operator may shelve an alarm (default: one 8-hour shift)",
    )

    # Telemetry (docs/telemetry.md): InfluxDB when all four influx_* are given, else the
    # embedded tables.
    influx_url: str | None = Field(
        default=None, description="InfluxDB base URL, e.g. http://127.0.0.1:8086"
    )
    influx_token: SecretStr | None = Field(
        default=None, description="API token (InfluxDB 1.8+: user:password)"
    )
    influx_org: str | None = Field(default=None, description="organisation (InfluxDB 1.8+: -)")
    influx_bucket: str | None = Field(
        default=None, description="bucket (InfluxDB 1.8+: database/retention-policy)"
    )
    influx_timeout_s: float = Field(
        default=2.0, gt=0, le=30, description="a write to InfluxDB that takes longer has failed"
    )
    influx_park_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="after a failed write, telemetry is parked this long before InfluxDB is "
        "tried again",
    )
    telemetry_raw_hours: float = Field(
        default=48.0,
        gt=0,
        description="embedded store: raw readings are kept this long, then rolled into "
        "1-minute min/avg/max",
    )
    telemetry_downsample_every_s: float = Field(
        default=300.0, gt=0, description="embedded store: how often the downsampler runs"
    )

    @model_validator(mode="after")
    def _influx_all_or_none(self) -> CloudSettings:
        given = {
            "influx_url": self.influx_url,
            "influx_token": self.influx_token,
            "influx_org": self.influx_org,
            "influx_bucket": self.influx_bucket,
        }
        missing = [name for name, value in given.items() if not value]
        if 0 < len(missing) < len(given):
            raise ValueError(f"InfluxDB needs all four settings; missing: {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _mqtt_tls_files(self) -> CloudSettings:
        """Fold the TLS files into the URL, after checking they can be read: a wrong path stops
        the service at start with the setting's name, not in endless failed reconnects."""
        from sitewatch.broker import BrokerAddress

        files = {
            "ca_file": self.mqtt_ca_file,
            "cert_file": self.mqtt_cert_file,
            "key_file": self.mqtt_key_file,
        }
        if not any(files.values()):
            return self
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"mqtt_{name} {str(path)!r} is not a file")
        address = BrokerAddress.parse(self.mqtt_url).with_tls_files(**files)
        self.mqtt_url = address.url(with_password=True)
        return self

    @model_validator(mode="after")
    def _retention_at_least_the_rules(self) -> CloudSettings:
        self.retention  # noqa: B018  (refuses a setting below its regulated minimum, by name)
        return self

    @property
    def retention(self) -> Retention:
        return Retention(
            alarm_days=self.retention_alarm_days,
            alarm_records=self.retention_alarm_records,
            access_days=self.retention_access_days,
            log_days=self.retention_log_days,
            inspection_days=self.retention_inspection_days,
        )
