"""Broker addresses (`mqtt://host:port`) and the embedded amqtt broker used by the demo and tests."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlparse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme != "mqtt":
            raise ValueError(f"broker URL {url!r} must start with mqtt:// (TLS comes later)")
        if not parsed.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        return cls(parsed.hostname, parsed.port or 1883, parsed.username, parsed.password)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


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
