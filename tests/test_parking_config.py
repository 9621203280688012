"""The site file's parking section: lanes, relays and anti-passback, and what is refused."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sitewatch.configload import ConfigError, Problem, load_site
from sitewatch.parkingconfig import AntiPassbackMode

REPO = Path(__file__).resolve().parent.parent

SITE = """\
site: {id: s1, name: Test site}
nodes:
  gate:
    name: Gate
    buses:
      rs485: {transport: rtu, device: /dev/ttyUSB3}
    devices:
      relays: {name: Relays, profile: relay_module, bus: rs485, unit: 1}
    readers:
      in: {name: In, family: rdm6300, port: /dev/ttyUSB4, role: gate, lane: lane-in, direction: in}
parking:
  lanes:
    lane-in:
      node: gate
      relay: {device: relays, point: RELAY}
"""


def problems(tmp_path: Path, relay_point: str) -> list[Problem]:
    shutil.copytree(REPO / "config" / "devices", tmp_path / "devices")
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(SITE).replace("RELAY", relay_point), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    return caught.value.problems


def test_the_example_site_has_two_lanes_and_a_soft_exit() -> None:
    site = load_site(REPO / "config" / "site.example.yaml")
    assert site.parking.rule("lane-in").mode is AntiPassbackMode.HARD
    assert site.parking.rule("lane-out").mode is AntiPassbackMode.SOFT
    assert sorted(site.parking.lanes_of("gate")) == ["lane-in", "lane-out"]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ("barrier_open", "device 'relays' has no coil 'barrier_open' to drive a barrier relay"),
        ("relay9", "device 'relays' has no point 'relay9' to drive a barrier relay"),
    ],
)
def test_a_relay_must_be_a_coil_of_the_lanes_device(
    tmp_path: Path, point: str, message: str
) -> None:
    (problem,) = problems(tmp_path, point)
    assert (problem.line, problem.path, problem.message) == (
        15,
        "parking.lanes.lane-in.relay.point",
        message,
    )


def test_a_gate_reader_needs_a_lane_with_a_relay(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config" / "devices", tmp_path / "devices")
    path = tmp_path / "site.yaml"
    path.write_text(SITE.split("parking:")[0], encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    (problem,) = caught.value.problems
    assert problem.path == "nodes.gate.readers.in.lane"
    assert "lane 'lane-in' is not a lane of node 'gate' under parking.lanes" in problem.message
