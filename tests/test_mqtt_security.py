"""The machine side of security against the real Mosquitto: the logins and ACL that `sitewatch
mqtt-acl` generates from the example site, and TLS with a CA made in the test.

Negative checks end on a marker: the forbidden messages go first, then one that is allowed, from
the same publisher to the same subscriber. Mosquitto keeps one client's messages in order, so once
the marker is in, anything allowed through before it would be in too; no waiting on a clock.
"""

from __future__ import annotations

import queue
import shutil
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from sitewatch.broker import BrokerAddress, configure_tls
from sitewatch.mqttacl import Generated, generate, node_username
from sitewatch.siteconfig import Site
from tests.brokers import ConfiguredMosquitto

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs a mosquitto binary")

SITE = "harbour-view"
CLOUD = "sw-cloud"
PUMPROOM = node_username(SITE, "pumproom")
PATROL = node_username(SITE, "patrol-north")
GATE = node_username(SITE, "gate")
EDGE_KINDS = ("birth", "death", "event", "alarm", "telemetry")


def topic(node: str, kind: str) -> str:
    return f"sw/v1/{SITE}/{node}/{kind}"


def login_of(credentials: Path) -> BrokerAddress:
    """What a node does with its credential file: take the broker URL out of it."""
    for line in credentials.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.endswith("MQTT_URL"):
            return BrokerAddress.parse(value)
    raise AssertionError(f"no broker URL in {credentials}")


def auth_config(broker: ConfiguredMosquitto, generated: Generated) -> str:
    """What config/mosquitto/mosquitto.conf sets for logins, on a test listener."""
    return (
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {generated.passwd}\n"
        f"acl_file {generated.acl}\n"
        f"listener {broker.address.port} 127.0.0.1\n"
        "persistence false\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
    )


@dataclass
class Secured:
    broker: ConfiguredMosquitto
    generated: Generated
    logins: dict[str, BrokerAddress]


@pytest.fixture(params=["mosquitto_passwd", "python"])
def secured(request: pytest.FixtureRequest, example_site: Site) -> Iterator[Secured]:
    """A broker on the password file and ACL generated from the example site, hashed by the
    broker's own tool and by our `$7$` fallback in turn."""
    if request.param == "mosquitto_passwd" and not shutil.which("mosquitto_passwd"):
        pytest.skip("no mosquitto_passwd")
    broker = ConfiguredMosquitto()
    generated = generate([example_site], broker.dir / "auth", broker.address, hasher=request.param)
    logins = {user: login_of(path) for user, path in generated.credentials.items()}
    broker.config = auth_config(broker, generated)
    broker.start()
    try:
        yield Secured(broker, generated, logins)
    finally:
        broker.stop()


class Peer:
    """One MQTT client logged in as someone, keeping what it receives in order."""

    def __init__(
        self,
        address: BrokerAddress,
        will: str | None = None,
        v5: bool = False,
        client_id: str | None = None,
        wait: float = 5.0,
    ) -> None:
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.reason: mqtt.ReasonCode | None = None
        self._connack = threading.Event()
        self._subacks: queue.Queue[list[mqtt.ReasonCode]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        if address.username:
            self.client.username_pw_set(address.username, address.password)
        configure_tls(self.client, address)
        if will:
            self.client.will_set(will, b'{"forged": "will"}', qos=1)
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self._subacks.put(codes)
        self.client.on_message = lambda _c, _u, m: self.inbox.put((m.topic, bytes(m.payload)))
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()
        # A broker that ends the TLS session after the handshake (no client certificate, with
        # TLS 1.3) never answers the CONNECT at all.
        self.answered = self._connack.wait(wait)

    def _connected(self, _c: object, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object):
        self.reason = reason
        self._connack.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, *filters: str) -> None:
        self.client.subscribe([(f, 1) for f in filters])
        self._subacks.get(timeout=5)

    def publish(self, topic: str, payload: bytes = b'{"all": "normal"}', retain: bool = False):
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def until(self, marker: str, timeout: float = 5.0) -> set[str]:
        """Topics received up to and including the first message on `marker`."""
        seen: set[str] = set()
        while marker not in seen:
            seen.add(self.inbox.get(timeout=timeout)[0])
        return seen

    def nothing_more(self, wait: float = 0.3) -> bool:
        try:
            self.inbox.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def drop(self) -> None:
        """Vanish without DISCONNECT, so the broker publishes the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    """Closes every peer a test opens."""
    opened: list[Peer] = []
    yield opened
    for peer in opened:
        peer.close()


def open_peer(peers: list[Peer], address: BrokerAddress, **options: object) -> Peer:
    peer = Peer(address, **options)  # type: ignore[arg-type]
    peers.append(peer)
    return peer


def test_anonymous_clients_and_wrong_passwords_are_refused(secured: Secured, peers: list[Peer]):
    address = secured.broker.address
    pumproom, gate = secured.logins[PUMPROOM], secured.logins[GATE]
    assert not open_peer(peers, address).accepted
    assert not open_peer(peers, replace(pumproom, password="not-the-password")).accepted
    # One node's password is no good for another node's user.
    assert not open_peer(peers, replace(pumproom, password=gate.password)).accepted
    assert open_peer(peers, pumproom).accepted


def test_a_node_cannot_publish_as_another_node(secured: Secured, peers: list[Peer]):
    cloud = open_peer(peers, secured.logins[CLOUD])
    cloud.subscribe(*(f"sw/v1/+/+/{kind}" for kind in EDGE_KINDS))
    gate = open_peer(peers, secured.logins[GATE])
    gate.subscribe(topic("gate", "ack"), topic("gate", "cmd/+"), topic("gate", "cards"))
    laptop = open_peer(peers, secured.logins[PUMPROOM])  # a contractor with the pump room's login
    for kind in EDGE_KINDS:
        laptop.publish(topic("gate", kind))  # "the garage is fine"
        laptop.publish(topic("patrol-north", kind))
    # Nor what only the cloud sends: commands, confirmations, card lists, the cloud's state.
    laptop.publish(topic("gate", "cmd/gate_open"))
    laptop.publish(topic("gate", "ack"))
    laptop.publish(topic("gate", "cards"), retain=True)
    for own in ("ack", "cmd/rebirth", "cards"):
        laptop.publish(topic("pumproom", own))
    laptop.publish("sw/v1/cloud/state", b'{"online": false}', retain=True)
    laptop.publish(topic("pumproom", "event"), b"marker")

    assert cloud.until(topic("pumproom", "event")) == {topic("pumproom", "event")}
    assert gate.nothing_more()
    late = open_peer(peers, secured.logins[PATROL])
    late.subscribe("sw/v1/cloud/state")
    assert late.nothing_more(), "a forged retained cloud state was kept"


def test_a_node_publishes_its_own_kinds_and_the_cloud_receives_them(
    secured: Secured, peers: list[Peer]
):
    cloud = open_peer(peers, secured.logins[CLOUD])
    cloud.subscribe(*(f"sw/v1/+/+/{kind}" for kind in EDGE_KINDS))
    node = open_peer(peers, secured.logins[PATROL])
    for kind in EDGE_KINDS:
        node.publish(topic("patrol-north", kind))
    assert cloud.until(topic("patrol-north", "telemetry")) == {
        topic("patrol-north", kind) for kind in EDGE_KINDS
    }


def test_a_node_reads_only_what_is_addressed_to_it(secured: Secured, peers: list[Peer]):
    snoop = open_peer(peers, secured.logins[PUMPROOM])
    # Subscribing wider than the grants is accepted, but only granted messages are delivered.
    snoop.subscribe(
        topic("pumproom", "ack"),
        topic("pumproom", "cmd/+"),
        topic("gate", "cmd/+"),
        topic("gate", "ack"),
        topic("gate", "cards"),
        topic("pumproom", "cards"),
        "sw/v1/#",
    )
    gate = open_peer(peers, secured.logins[GATE])
    gate.subscribe(topic("gate", "cmd/+"))
    cloud = open_peer(peers, secured.logins[CLOUD])
    cloud.publish(topic("gate", "cmd/gate_open"))
    cloud.publish(topic("gate", "ack"))
    cloud.publish(topic("patrol-north", "cmd/rebirth"))
    cloud.publish(topic("pumproom", "cards"))  # not a gate node: not even its own
    cloud.publish(topic("pumproom", "ack"))
    cloud.publish(topic("pumproom", "cmd/rebirth"))

    assert snoop.until(topic("pumproom", "cmd/rebirth")) == {
        topic("pumproom", "ack"),
        topic("pumproom", "cmd/rebirth"),
    }
    assert gate.until(topic("gate", "cmd/gate_open")) == {topic("gate", "cmd/gate_open")}


def test_a_gate_node_reads_its_card_list_and_no_other_node_does(
    secured: Secured, peers: list[Peer]
):
    cloud = open_peer(peers, secured.logins[CLOUD])
    cloud.publish(topic("gate", "cards"), b'{"cards": []}', retain=True)
    gate = open_peer(peers, secured.logins[GATE])
    gate.subscribe(topic("gate", "cards"))
    assert gate.inbox.get(timeout=5) == (topic("gate", "cards"), b'{"cards": []}')
    other = open_peer(peers, secured.logins[PUMPROOM])
    other.subscribe(topic("gate", "cards"), topic("pumproom", "cmd/+"))
    cloud.publish(topic("pumproom", "cmd/rebirth"))
    assert other.until(topic("pumproom", "cmd/rebirth")) == {topic("pumproom", "cmd/rebirth")}


def test_a_node_cannot_forge_another_nodes_death_with_its_will(secured: Secured, peers: list[Peer]):
    cloud = open_peer(peers, secured.logins[CLOUD])
    cloud.subscribe("sw/v1/+/+/death")
    forger = open_peer(peers, secured.logins[PUMPROOM], will=topic("gate", "death"))
    honest = open_peer(peers, secured.logins[PUMPROOM], will=topic("pumproom", "death"))
    forger.drop()
    assert forger.accepted  # Mosquitto takes the will; it checks the ACL when it publishes it
    honest.drop()
    assert cloud.until(topic("pumproom", "death"), timeout=10) == {topic("pumproom", "death")}


def test_the_cloud_account_reads_through_a_shared_subscription_and_forges_no_edge_kind(
    secured: Secured, peers: list[Peer]
):
    worker = open_peer(peers, secured.logins[CLOUD], v5=True)
    worker.subscribe(*(f"$share/sitewatch/sw/v1/+/+/{kind}" for kind in EDGE_KINDS))
    node = open_peer(peers, secured.logins[PUMPROOM])
    node.subscribe("sw/v1/cloud/state")
    node.publish(topic("pumproom", "alarm"))
    assert worker.until(topic("pumproom", "alarm")) == {topic("pumproom", "alarm")}

    other_worker = open_peer(peers, secured.logins[CLOUD])
    other_worker.publish(topic("pumproom", "event"))  # the cloud speaks for no node
    other_worker.publish("sw/v1/cloud/state", b'{"online": true}', retain=True)
    assert node.until("sw/v1/cloud/state") == {"sw/v1/cloud/state"}
    assert worker.nothing_more()


# -- TLS ---------------------------------------------------------------------------------------


@dataclass
class TlsBroker:
    broker: ConfiguredMosquitto
    port: int
    ca: Path
    client_cert: Path
    client_key: Path
    logins: dict[str, BrokerAddress]

    def address(self, user: str, **files: Path | None) -> BrokerAddress:
        plain = self.logins[user]
        return BrokerAddress(
            plain.host, self.port, plain.username, plain.password, tls=True, **files
        )


@pytest.fixture
def tls_broker(example_site: Site) -> Iterator[TlsBroker]:
    """The generated logins again, on a TLS listener that also requires a client certificate
    signed by the test's own CA (config/mosquitto/mosquitto.conf's TLS block)."""
    from sitewatch.broker import free_port
    from tests.brokers import throwaway_pki

    broker = ConfiguredMosquitto()
    pki = throwaway_pki(broker.dir / "certs")
    generated = generate([example_site], broker.dir / "auth", broker.address, hasher="python")
    port = free_port()
    broker.ports = [port]
    broker.config = auth_config(broker, generated) + (
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        "tls_version tlsv1.2\nrequire_certificate true\n"
    )
    broker.start()
    logins = {user: login_of(path) for user, path in generated.credentials.items()}
    try:
        yield TlsBroker(broker, port, pki.ca, pki.client_cert, pki.client_key, logins)
    finally:
        broker.stop()


def test_tls_with_the_ca_and_a_client_certificate_connects(
    tls_broker: TlsBroker, peers: list[Peer]
):
    files = {"ca_file": tls_broker.ca, "cert_file": tls_broker.client_cert}
    cloud = open_peer(peers, tls_broker.address(CLOUD, **files, key_file=tls_broker.client_key))
    cloud.subscribe("sw/v1/+/+/event")
    node = open_peer(peers, tls_broker.address(PUMPROOM, **files, key_file=tls_broker.client_key))
    assert node.accepted and cloud.accepted
    node.publish(topic("pumproom", "event"))
    assert cloud.until(topic("pumproom", "event")) == {topic("pumproom", "event")}


def test_tls_without_the_ca_or_without_a_client_certificate_fails(
    tls_broker: TlsBroker, peers: list[Peer]
):
    # The system's CAs do not know the test CA: the broker's certificate is refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        Peer(tls_broker.address(PUMPROOM))
    # The broker requires a client certificate: without one the session ends unanswered (or the
    # handshake fails outright, with TLS 1.2).
    try:
        no_certificate = open_peer(
            peers, tls_broker.address(PUMPROOM, ca_file=tls_broker.ca), wait=1.5
        )
    except OSError:
        pass
    else:
        assert not no_certificate.accepted
    # And plain MQTT on the TLS port gets no answer either.
    plain = open_peer(peers, replace(tls_broker.logins[PUMPROOM], port=tls_broker.port), wait=1.5)
    assert not plain.accepted


# -- the real processes ------------------------------------------------------------------------


async def test_real_edges_and_the_cloud_each_on_their_own_login(
    tls_broker: TlsBroker, example_site: Site, tmp_path: Path
):
    """Simulated devices → edge agents, each logged in as its node → Mosquitto with the generated
    ACL → the cloud on its own login, over TLS from its settings; the pump room over TLS too."""
    import asyncio

    from sqlalchemy import select

    from cloud.gates import cards
    from cloud.gates.fields import CardFields
    from cloud.models import NodeRecord
    from cloud.service import CloudService
    from cloud.settings import CloudSettings
    from edge.agent import EdgeAgent
    from simulators.site import SiteSimulator
    from tests.conftest import eventually
    from tests.db import sqlite_url

    cloud_login = tls_broker.address(CLOUD)
    settings = CloudSettings(
        db_url=sqlite_url(tmp_path),
        mqtt_url=cloud_login.url(with_password=True),
        mqtt_ca_file=tls_broker.ca,
        mqtt_cert_file=tls_broker.client_cert,
        mqtt_key_file=tls_broker.client_key,
        http_port=0,
        site_files=[],
        ack_interval_s=0.2,
    )
    pumproom_login = tls_broker.address(
        PUMPROOM,
        ca_file=tls_broker.ca,
        cert_file=tls_broker.client_cert,
        key_file=tls_broker.client_key,
    )
    async with SiteSimulator(example_site) as sims:
        edge_site = sims.site_for_edge()
        cloud = CloudService(settings, {example_site.id: example_site})
        pumproom = EdgeAgent(edge_site, "pumproom", pumproom_login, tmp_path / "edge")
        gate = EdgeAgent(edge_site, "gate", tls_broker.logins[GATE], tmp_path / "edge")
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(cloud.run())]
            await cloud.started()
            # Subscribed before the edges publish: a birth nobody hears is re-sent only after
            # the edge's confirmation timeout (30 s), longer than this test waits.
            assert cloud.ingest is not None
            await eventually(lambda: _true(cloud.ingest.connected.is_set()), timeout=20)
            tasks += [group.create_task(pumproom.run()), group.create_task(gate.run())]

            async def both_online() -> bool:
                with cloud.sessions() as session:
                    online = session.scalars(select(NodeRecord).where(NodeRecord.online)).all()
                    return {n.node for n in online} >= {"pumproom", "gate"}

            await eventually(both_online, timeout=20)
            # The cloud's confirmations reach each node through its own `ack` grant.
            await eventually(lambda: _true(pumproom.link.last_confirmed_ms), timeout=20)
            await eventually(lambda: _true(gate.link.last_confirmed_ms), timeout=20)
            # And the gate its card list, through its `cards` grant.
            with cloud.sessions.begin() as session:
                fields = CardFields(card="0A00BC614E", holder="陈先生", type="resident")
                cards.issue(session, example_site, fields, by="test")
            assert gate.gate is not None
            await eventually(lambda: _true(gate.gate.book.lookup("0A00BC614E")), timeout=20)
            for task in tasks:
                task.cancel()


async def _true(value: object) -> bool:
    return bool(value)


def test_the_shipped_configuration_runs_on_generated_files(
    example_site: Site, peers: list[Peer]
) -> None:
    """config/mosquitto/mosquitto.conf as an operator installs it, TLS block uncommented; only
    the placeholder address, the ports and the paths are changed to the test's."""
    from sitewatch.broker import free_port
    from tests.brokers import throwaway_pki

    shipped = (Path(__file__).parent.parent / "config" / "mosquitto" / "mosquitto.conf").read_text()
    broker = ConfiguredMosquitto()
    pki = throwaway_pki(broker.dir / "certs")
    generated = generate([example_site], broker.dir / "auth", broker.address)
    lan, tls = free_port(), free_port()
    broker.ports = [lan, tls]
    config = shipped.replace("listener 1883 192.0.2.10", f"listener {lan} 127.0.0.1")
    config = config.replace("listener 1883 127.0.0.1", f"listener {broker.address.port} 127.0.0.1")
    config = config.replace("#listener 8883 192.0.2.10", f"listener {tls} 127.0.0.1")
    for directive in ("cafile", "certfile", "keyfile", "tls_version", "require_certificate"):
        config = config.replace(f"#{directive} ", f"{directive} ")
    config = config.replace("#use_identity_as_username", "use_identity_as_username")
    for shipped_path, test_path in {
        "/etc/mosquitto/sitewatch/certs/ca.crt": pki.ca,
        "/etc/mosquitto/sitewatch/certs/broker.crt": pki.server_cert,
        "/etc/mosquitto/sitewatch/certs/broker.key": pki.server_key,
        "/etc/mosquitto/sitewatch/passwd": generated.passwd,
        "/etc/mosquitto/sitewatch/acl": generated.acl,
        "/var/lib/mosquitto/": f"{broker.dir}/",
        "/var/log/mosquitto/mosquitto.log": broker.dir / "broker.log",
    }.items():
        assert shipped_path in config, shipped_path
        config = config.replace(shipped_path, str(test_path))
    broker.config = config
    broker.start()
    try:
        logins = {user: login_of(path) for user, path in generated.credentials.items()}
        cloud = open_peer(peers, replace(logins[CLOUD], port=lan))
        cloud.subscribe("sw/v1/+/+/alarm")
        node = open_peer(
            peers,
            replace(
                logins[PUMPROOM],
                port=tls,
                tls=True,
                ca_file=pki.ca,
                cert_file=pki.client_cert,
                key_file=pki.client_key,
            ),
        )
        assert node.accepted
        node.publish(topic("gate", "alarm"))
        node.publish(topic("pumproom", "alarm"))
        assert cloud.until(topic("pumproom", "alarm")) == {topic("pumproom", "alarm")}
        assert not open_peer(peers, broker.address, wait=2).accepted
    finally:
        broker.stop()


def test_rotating_a_node_locks_out_its_old_password_on_reload(
    secured: Secured, example_site: Site, peers: list[Peer]
) -> None:
    """docs/security.md §3: --rotate, then reload the broker; nobody else is touched."""
    import os
    import signal
    import time

    old = secured.logins[PUMPROOM]
    intruder = open_peer(peers, old)
    bystander = open_peer(peers, secured.logins[PATROL])
    assert intruder.accepted and bystander.accepted
    rotated = generate(
        [example_site], secured.generated.passwd.parent, secured.broker.address, ["pumproom"]
    )
    assert rotated.rotated == [PUMPROOM] and set(rotated.credentials) == {PUMPROOM}
    assert secured.broker.process is not None
    os.kill(secured.broker.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while intruder.client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The reload re-checks connected clients: the old password is thrown off at once.
    assert not intruder.client.is_connected()
    assert bystander.client.is_connected()
    assert not open_peer(peers, old, wait=2).accepted
    assert open_peer(peers, login_of(rotated.credentials[PUMPROOM])).accepted
