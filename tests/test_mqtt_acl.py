"""`sitewatch mqtt-acl` and broker addresses without a broker: the exact rules, the files and
their modes, keeping and rotating passwords, refused names; tests/test_mqtt_security.py runs the
same files on the real Mosquitto."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sitewatch.broker import BrokerAddress
from sitewatch.mqttacl import generate
from sitewatch.siteconfig import Site
from tests.test_mqtt_security import CLOUD, EDGE_KINDS, GATE, PUMPROOM, login_of, topic


def test_the_generated_rules_and_files(example_site: Site, tmp_path: Path) -> None:
    from sitewatch.mqttacl import accounts, check_password, read_password_file

    found = {a.username: a for a in accounts([example_site])}
    assert found[PUMPROOM].grants() == [
        *(("write", topic("pumproom", kind)) for kind in EDGE_KINDS),
        ("read", topic("pumproom", "ack")),
        ("read", topic("pumproom", "cmd/#")),
        ("read", "sw/v1/cloud/state"),
    ]
    assert ("read", topic("gate", "cards")) in found[GATE].grants()
    assert not any(t.endswith("/cards") for _, t in found[PUMPROOM].grants())
    assert not any(
        access == "write" and t.endswith(EDGE_KINDS) for access, t in found[CLOUD].grants()
    )

    out = tmp_path / "auth"
    first = generate([example_site], out, BrokerAddress("192.0.2.10"), hasher="python")
    assert first.created == list(found) and not first.kept
    assert out.joinpath("passwd").stat().st_mode & 0o777 == 0o600
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in first.credentials.values())
    assert (out / "credentials").stat().st_mode & 0o777 == 0o700
    hashes = read_password_file(out / "passwd")
    for user, path in first.credentials.items():
        assert check_password(login_of(path).password or "", hashes[user])

    again = generate([example_site], out, BrokerAddress("192.0.2.10"), ["cloud"])
    assert again.rotated == [CLOUD] and again.kept == [u for u in found if u != CLOUD]
    after = read_password_file(out / "passwd")
    assert after[PUMPROOM] == hashes[PUMPROOM] and after[CLOUD] != hashes[CLOUD]
    assert (out / "acl").read_text() == first.acl.read_text()

    without_gate = replace(example_site, nodes={"pumproom": example_site.nodes["pumproom"]})
    shrunk = generate([without_gate], out, BrokerAddress("192.0.2.10"))
    assert GATE in shrunk.removed and GATE not in read_password_file(out / "passwd")


def test_names_that_would_meet_and_unknown_rotations_are_refused(
    example_site: Site, tmp_path: Path
) -> None:
    from sitewatch.mqttacl import AclError

    node = replace(example_site.nodes["patrol-north"], id="view-pumproom")
    other = replace(example_site, id="harbour", nodes={"view-pumproom": node})
    with pytest.raises(AclError, match="would log in as 'sw-edge-harbour-view-pumproom'"):
        generate([example_site, other], tmp_path, BrokerAddress("h"))
    with pytest.raises(AclError, match="--rotate nowhere: matches no account"):
        generate([example_site], tmp_path, BrokerAddress("h"), ["nowhere"])
    assert not (tmp_path / "passwd").exists()


def test_broker_urls_with_tls() -> None:
    address = BrokerAddress.parse("mqtts://u:s3cret@broker.lan?ca_file=/etc/sw/ca.crt")
    assert (address.port, address.tls, address.ca_file) == (8883, True, Path("/etc/sw/ca.crt"))
    assert str(address) == "mqtts://broker.lan:8883" and "s3cret" not in repr(address)
    assert BrokerAddress.parse(address.url(with_password=True)) == address
    assert BrokerAddress.parse("mqtt://h").port == 1883
    for bad in ("mqtt://h?ca_file=/x", "mqtts://h?verify=no", "mqtts://h?key_file=/k", "ws://h"):
        with pytest.raises(ValueError):
            BrokerAddress.parse(bad)


def test_the_mqtt_acl_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sitewatch.cli import app

    site = str(Path(__file__).parent.parent / "config" / "site.example.yaml")
    runner = CliRunner()
    done = runner.invoke(app, ["mqtt-acl", site, "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "new: sw-cloud" in done.output and (tmp_path / "acl").exists()
    done = runner.invoke(app, ["mqtt-acl", site, "--out", str(tmp_path), "--rotate", "gate"])
    assert done.exit_code == 0 and f"rotated: {GATE}" in done.output
    done = runner.invoke(app, ["mqtt-acl", site, "--out", str(tmp_path), "--rotate", "x/y"])
    assert done.exit_code == 2
