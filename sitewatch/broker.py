"""Broker addresses (`mqtt://` or `mqtts://host:port`), their TLS setup, and the embedded amqtt
broker used by the demo and tests."""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlparse

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

SCHEMES = {"mqtt": 1883, "mqtts": 8883}
# The query keys of an mqtts:// URL: the BrokerAddress fields of the same names.
TLS_FILES = ("ca_file", "cert_file", "key_file")


@dataclass(frozen=True)
class BrokerAddress:
    """Where a client connects, as whom, and (mqtts://) which TLS files it uses.

    `ca_file` None with TLS on means the system's trusted CAs. `cert_file` (and `key_file`, unless
    the key is in the same PEM file) is the client certificate, for a broker that requires one.
    """

    host: str
    port: int = 1883
    username: str | None = None
    # Never in a repr: addresses end up in log lines and tracebacks.
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError(
                f"TLS files are given for mqtt://{self.host}:{self.port}, which is plain MQTT: "
                "use mqtts:// to connect with TLS"
            )
        if self.key_file and not self.cert_file:
            raise ValueError("a client key file needs its client certificate file")

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """`mqtt[s]://[user:password@]host[:port][?ca_file=PATH&cert_file=PATH&key_file=PATH]`."""
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in SCHEMES:
            raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts:// (TLS)")
        if not parsed.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        files: dict[str, Path] = {}
        for key, values in parse_qs(parsed.query, keep_blank_values=True).items():
            if key not in TLS_FILES:
                known = ", ".join(TLS_FILES)
                raise ValueError(f"broker URL {url!r}: unknown option {key!r} (known: {known})")
            if len(values) != 1 or not values[0]:
                raise ValueError(f"broker URL {url!r}: {key} needs exactly one path")
            files[key] = Path(values[0])
        return cls(
            parsed.hostname,
            parsed.port or SCHEMES[parsed.scheme],
            parsed.username,
            parsed.password,
            tls=parsed.scheme == "mqtts",
            **files,
        )

    def with_tls_files(
        self,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> BrokerAddress:
        """This address with the TLS files given (None keeps what it has); checked as parse()."""
        return replace(
            self,
            ca_file=ca_file or self.ca_file,
            cert_file=cert_file or self.cert_file,
            key_file=key_file or self.key_file,
        )

    def url(self, with_password: bool = False) -> str:
        """The address as a URL that parse() reads back; the password only when asked for."""
        login = ""
        if self.username:
            secret = f":{self.password}" if with_password and self.password else ""
            login = f"{self.username}{secret}@"
        files = {key: str(value) for key in TLS_FILES if (value := getattr(self, key)) is not None}
        query = f"?{urlencode(files, safe='/')}" if files else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{login}{self.host}:{self.port}{query}"

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def tls_context(address: BrokerAddress) -> ssl.SSLContext:
    """The client side of TLS: the broker's certificate must chain to the CA and name the host.

    Raises OSError (or ssl.SSLError) naming the file when one cannot be read, so a wrong path
    stops the process at start instead of turning into endless failed reconnects.
    """
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(address.ca_file) if address.ca_file else None
    )
    # TLS 1.2 is the oldest version without known protocol weaknesses; the broker example
    # (config/mosquitto/mosquitto.conf) refuses older ones too.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if address.cert_file:
        context.load_cert_chain(
            str(address.cert_file), str(address.key_file) if address.key_file else None
        )
    return context


def configure_tls(client: mqtt.Client, address: BrokerAddress) -> None:
    """Switch a paho client to TLS when the address is mqtts://; nothing for mqtt://.

    One place for the edge link and the cloud ingest alike, so that both verify the broker the
    same way (hostname check on, certificates required).
    """
    if address.tls:
        client.tls_set_context(tls_context(address))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago; the OS picks it."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As a server would bind it: a port left in TIME_WAIT by a previous run is free to use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class EmbeddedBroker:
    """An in-process amqtt broker on a free loopback port; use as `async with`."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.address = BrokerAddress(host, port or free_port(host))
        self._broker = None

    async def __aenter__(self) -> EmbeddedBroker:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.address.host}:{self.address.port}"}
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded amqtt broker on %s", self.address)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
