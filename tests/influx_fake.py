"""A small stand-in for InfluxDB 2 on a free port: /api/v2/write (line protocol), /ping, and the
Flux query shapes `cloud.telemetry.influx_reader` sends to /api/v2/query. It checks the token,
org, bucket and precision like the real server, and can be told to fail or to hang."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Line:
    """One line of line protocol as it arrived."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | int | str | bool]
    ts: int | None


def _split(text: str, separator: str, limit: int = -1, quotes: bool = False) -> list[str]:
    """Split on `separator` where it is not escaped by a backslash (nor, with `quotes`, inside
    a string field's double quotes: in measurements and tags a quote is an ordinary char)."""
    parts, current, escaped, quoted = [], [], False, False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"' and quotes:
            quoted = not quoted
            current.append(char)
        elif char == separator and not quoted and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _field_value(text: str) -> float | int | str | bool:
    if text.startswith('"'):
        return _unescape(text[1:-1])
    if text.endswith("i"):
        return int(text[:-1])
    if text in ("t", "T", "true", "True", "TRUE"):
        return True
    if text in ("f", "F", "false", "False", "FALSE"):
        return False
    return float(text)


def parse_line(text: str) -> Line:
    series, remainder = _split(text, " ", limit=1)
    fields, *rest = _split(remainder, " ", quotes=True)
    measurement, *tags = _split(series, ",")
    tag_pairs = [_split(tag, "=", limit=1) for tag in tags]
    field_pairs = [_split(field, "=", limit=1) for field in _split(fields, ",", quotes=True)]
    return Line(
        measurement=_unescape(measurement),
        tags={_unescape(k): _unescape(v) for k, v in tag_pairs},
        fields={_unescape(k): _field_value(v) for k, v in field_pairs},
        ts=int(rest[0]) if rest and rest[0] else None,
    )


class FakeInflux:
    """`with FakeInflux(token=..., org=..., bucket=...) as influx:` serves on `influx.url`.

    `mode`: "ok"; an HTTP status such as 500 or 503 to answer every request with; or "hang" to
    answer nothing until the mode changes or the fake stops."""

    def __init__(self, token: str = "t0ken", org: str = "sitewatch", bucket: str = "trends"):
        self.token, self.org, self.bucket = token, org, bucket
        self.mode: str | int = "ok"
        self.lines: list[Line] = []
        self.writes = 0  # write requests that succeeded
        self.refused = 0  # write requests answered with an error
        self.hung = 0  # requests that arrived while told to hang
        self.queries: list[str] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set_mode(self, mode: str | int) -> None:
        self.mode = mode
        if mode == "hang":
            self._released.clear()
        else:
            self._released.set()

    def __enter__(self) -> FakeInflux:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    # -- what the handler does ------------------------------------------------------------

    def _gate(self) -> int | None:
        """Hang while told to; the status to fail with, if any."""
        if self.mode == "hang":
            with self._lock:
                self.hung += 1
            self._released.wait(30)
        return self.mode if isinstance(self.mode, int) else None

    def _write(self, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> int:
        if headers.get("authorization") != f"Token {self.token}":
            return 401
        if query.get("org") != [self.org] or query.get("bucket") != [self.bucket]:
            return 404
        if query.get("precision") != ["ms"]:
            return 400  # the sink sends milliseconds, the edge's read time
        lines = [parse_line(text) for text in body.decode().splitlines() if text.strip()]
        with self._lock:
            self.lines.extend(lines)
            self.writes += 1
        return 204

    def _query(self, flux: str) -> str:
        self.queries.append(flux)
        bucket = re.search(r'from\(bucket: "((?:[^"\\]|\\.)*)"\)', flux)
        if bucket is None or _unescape(bucket.group(1)) != self.bucket:
            raise LookupError("unknown bucket")
        start, stop = _range(flux)
        wanted = {
            name: _unescape(value)
            for name, value in re.findall(r'r\.(\w+) == "((?:[^"\\]|\\.)*)"', flux)
        }
        measurement, field = wanted.pop("_measurement", None), wanted.pop("_field", None)
        with self._lock:
            found = [
                line
                for line in self.lines
                if line.measurement == measurement
                and field in line.fields
                and all(line.tags.get(k) == v for k, v in wanted.items())
                and line.ts is not None
                and start <= line.ts < stop
            ]
        # One series, one point per time: a point written twice overwrites, as in InfluxDB.
        by_time = {line.ts: line.fields[field] for line in found}  # type: ignore[index]
        rows = sorted(by_time.items(), reverse="desc: true" in flux)
        limit = re.search(r"limit\(n: (\d+)\)", flux)
        if limit:
            rows = rows[: int(limit.group(1))]
        out = [
            "#datatype,string,long,dateTime:RFC3339,double",
            "#group,false,false,false,false",
            "#default,_result,,,",
            ",result,table,_time,_value",
        ]
        for ts, value in rows:
            moment = datetime.fromtimestamp(ts / 1000, UTC)  # type: ignore[operator]
            out.append(f",,0,{moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z,{value}")
        return "\r\n".join(out) + "\r\n\r\n"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, status: int, body: str = "", kind: str = "application/json") -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    if data:
                        self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its timeout): what a hang is for

            def _error(self, status: int, message: str) -> None:
                self._answer(status, json.dumps({"code": "error", "message": message}))

            def do_GET(self) -> None:
                failing = fake._gate()
                if urlparse(self.path).path == "/ping" and failing is None:
                    self._answer(204)
                else:
                    self._error(failing or 404, "not here")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlparse(self.path)
                query = parse_qs(url.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                failing = fake._gate()
                if url.path == "/api/v2/write":
                    status = failing or fake._write(query, headers, body)
                    if status != 204:
                        with fake._lock:
                            fake.refused += 1
                        self._error(status, f"write refused ({status})")
                    else:
                        self._answer(204)
                elif url.path == "/api/v2/query":
                    if headers.get("authorization") != f"Token {fake.token}":
                        self._error(401, "unauthorized access")
                    elif failing:
                        self._error(failing, "query failed")
                    else:
                        try:
                            csv = fake._query(json.loads(body)["query"])
                        except LookupError as exc:
                            self._error(404, str(exc))
                        else:
                            self._answer(200, csv, "text/csv; charset=utf-8")
                else:
                    self._error(404, "not here")

        return Handler


def _range(flux: str) -> tuple[int, int]:
    """[start, stop) in ms of `range(start: ..., stop: ...)`: RFC 3339 times or `-Nd`."""
    found = re.search(r"range\(start: ([^,)]+)(?:, stop: ([^)]+))?\)", flux)
    assert found, flux
    now = datetime.now(UTC)

    def moment(text: str | None) -> int:
        if text is None:
            return int(now.timestamp() * 1000)
        relative = re.fullmatch(r"-(\d+)d", text)
        when = (
            now - timedelta(days=int(relative.group(1)))
            if relative
            else datetime.fromisoformat(text.replace("Z", "+00:00"))
        )
        return int(when.timestamp() * 1000)

    return moment(found.group(1)), moment(found.group(2))
