"""Test brokers: a private Mosquitto on a free port when the binary exists, else embedded amqtt."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sitewatch.broker import BrokerAddress, EmbeddedBroker, free_port


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


class MosquittoBroker:
    """A private mosquitto process; `restart()` keeps the port, so clients can reconnect."""

    def __init__(self, persistence: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sw-mosquitto-"))
        self.address = BrokerAddress("127.0.0.1", free_port())
        self.persistence = persistence
        self.process: subprocess.Popen[bytes] | None = None
        self.kind = "mosquitto"

    def start(self) -> None:
        config = self.dir / "mosquitto.conf"
        config.write_text(
            f"listener {self.address.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            f"persistence {'true' if self.persistence else 'false'}\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
        )
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "mosquitto", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.address.host, self.address.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class AmqttThread:
    """The embedded amqtt broker in a thread of its own, so it outlives each test's event loop."""

    def __init__(self) -> None:
        self.kind = "amqtt"
        self._loop = asyncio.new_event_loop()
        self._broker = EmbeddedBroker()
        self.address = self._broker.address
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._broker.__aenter__(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(
            self._broker.__aexit__(None, None, None), self._loop
        ).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def chosen_broker() -> str:
    """Which broker the tests will use here: 'mosquitto' or 'amqtt'."""
    wanted = os.environ.get("SITEWATCH_TEST_BROKER", "auto")
    if wanted == "amqtt" or (wanted == "auto" and not shutil.which("mosquitto")):
        return "amqtt"
    return "mosquitto"


@contextmanager
def test_broker() -> Iterator[MosquittoBroker | AmqttThread]:
    """Mosquitto if installed (SITEWATCH_TEST_BROKER=amqtt forces the embedded one)."""
    wanted = os.environ.get("SITEWATCH_TEST_BROKER", "auto")
    broker: MosquittoBroker | AmqttThread
    if wanted != "amqtt" and shutil.which("mosquitto"):
        broker = MosquittoBroker()
    elif wanted == "mosquitto":
        raise RuntimeError("SITEWATCH_TEST_BROKER=mosquitto but no mosquitto binary on PATH")
    else:
        broker = AmqttThread()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class ConfiguredMosquitto(MosquittoBroker):
    """A private mosquitto on a configuration the test writes itself: logins, an ACL, TLS.

    Set `config` (the whole mosquitto.conf; `self.address.port` and `self.dir` are free for it
    to use) and any extra `ports` it listens on, then start(). Started as root, Mosquitto drops
    to the `mosquitto` user before it reads the password file, the ACL and the certificates, as
    in production: start() gives that user's group read access to `self.dir`, as docs/broker.md
    tells an operator to. The broker's own log is in `self.dir / "mosquitto.log"`.
    """

    def __init__(self) -> None:
        super().__init__(persistence=False)
        self.config = ""
        self.ports: list[int] = []
        self.kind = "mosquitto (configured)"

    def start(self) -> None:
        if not self.config:
            raise ValueError("set ConfiguredMosquitto.config before start()")
        path = self.dir / "mosquitto.conf"
        path.write_text(self.config)
        self._share_with_the_broker_user()
        with (self.dir / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [shutil.which("mosquitto") or "mosquitto", "-c", str(path)],
                stdout=log,
                stderr=log,
            )
        for port in [self.address.port, *self.ports]:
            try:
                _wait_for_port(self.address.host, port, timeout=5)
            except TimeoutError:
                self.stop()
                raise RuntimeError(f"mosquitto did not start:\n{self.log()}") from None

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _share_with_the_broker_user(self) -> None:
        if os.geteuid() != 0:
            return  # not root: Mosquitto keeps our user, which can read our files
        import grp

        try:
            grp.getgrnam("mosquitto")
        except KeyError:
            return  # no such user to drop to: Mosquitto stays root
        for path in [self.dir, *self.dir.rglob("*")]:
            shutil.chown(path, group="mosquitto")
            path.chmod(path.stat().st_mode | (0o050 if path.is_dir() else 0o040))


@dataclass(frozen=True)
class ThrowawayPki:
    """PEM files of a CA made for one test, a broker certificate it signed, and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def throwaway_pki(directory: Path, host: str = "127.0.0.1") -> ThrowawayPki:
    """Make a CA, a broker certificate naming `host` (and localhost), and a client certificate.

    Made fresh by each test that needs TLS, so no key ever lives in the repository.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def issue(
        common: str,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        extensions: list[tuple[x509.ExtensionType, bool]],
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        return builder.sign(signer, hashes.SHA256())

    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    ca_cert = issue(
        "Sitewatch test CA",
        ca_key,
        ca_key,
        name("Sitewatch test CA"),
        [(x509.BasicConstraints(ca=True, path_length=0), True), (ca_usage, True)],
    )
    write(directory / "ca", ca_key, ca_cert)
    leaf = x509.BasicConstraints(ca=False, path_length=None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
    server_usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    server = issue(
        "broker",
        server_key,
        ca_key,
        ca_cert.subject,
        [(leaf, True), (x509.SubjectAlternativeName(names), False), (server_usage, False)],
    )
    write(directory / "server", server_key, server)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    client = issue(
        "sw-edge-node", client_key, ca_key, ca_cert.subject, [(leaf, True), (client_usage, False)]
    )
    write(directory / "client", client_key, client)
    return ThrowawayPki(
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
        directory / "client.crt",
        directory / "client.key",
    )
