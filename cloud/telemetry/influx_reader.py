"""Read trends back from InfluxDB with Flux, as the same `Point`s the embedded tables give."""

from __future__ import annotations

from datetime import UTC, datetime

from influxdb_client import InfluxDBClient

from cloud.telemetry import Point
from cloud.telemetry.influx import FIELD, MEASUREMENT, InfluxConfig

LATEST_RANGE = "-30d"  # how far back `latest` looks for a point's newest readings


def flux_string(text: str) -> str:
    """A Flux string literal. Parameterised queries exist only in InfluxDB Cloud, so the tags
    are escaped instead: backslash, double quote and the `${` of interpolation."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def flux_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; telemetry times are aware UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _select(bucket: str, start: str, stop: str | None, tags: dict[str, str]) -> list[str]:
    stop_arg = f", stop: {stop}" if stop is not None else ""
    matches = " and ".join(f"r.{name} == {flux_string(value)}" for name, value in tags.items())
    return [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {start}{stop_arg})",
        f'  |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "{FIELD}")',
        f"  |> filter(fn: (r) => {matches})",
        # One table whatever tags were added later (a unit): the point is one trend.
        '  |> keep(columns: ["_time", "_value"])',
        "  |> group()",
    ]


def series_flux(
    bucket: str, site: str, node: str, device: str, point: str, start: datetime, end: datetime
) -> str:
    tags = {"site": site, "node": node, "device": device, "point": point}
    lines = _select(bucket, flux_time(start), flux_time(end), tags)
    return "\n".join([*lines, '  |> sort(columns: ["_time"])'])


def latest_flux(bucket: str, site: str, node: str, device: str, point: str, limit: int) -> str:
    tags = {"site": site, "node": node, "device": device, "point": point}
    lines = _select(bucket, LATEST_RANGE, None, tags)
    return "\n".join(
        [*lines, '  |> sort(columns: ["_time"], desc: true)', f"  |> limit(n: {int(limit)})"]
    )


class InfluxTelemetryReader:
    """Queries /api/v2/query. Readings are returned as written (min = avg = max): InfluxDB keeps
    them raw, and its own retention or tasks decide any downsampling."""

    def __init__(self, config: InfluxConfig, query_timeout_s: float = 10.0) -> None:
        self.config = config
        self.client = InfluxDBClient(
            url=config.url,
            token=config.token,
            org=config.org,
            timeout=int(query_timeout_s * 1000),
        )
        self._api = self.client.query_api()

    def series(
        self, site: str, node: str, device: str, point: str, start: datetime, end: datetime
    ) -> list[Point]:
        flux = series_flux(self.config.bucket, site, node, device, point, start, end)
        return self._query(flux)

    def latest(self, site: str, node: str, device: str, point: str, limit: int) -> list[Point]:
        return self._query(latest_flux(self.config.bucket, site, node, device, point, limit))

    def _query(self, flux: str) -> list[Point]:
        points: list[Point] = []
        for table in self._api.query(flux, org=self.config.org):
            for record in table.records:
                value = float(record.get_value())
                points.append(Point(record.get_time().astimezone(UTC), value, value, value))
        return points

    def close(self) -> None:
        self.client.close()
