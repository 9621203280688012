"""Tests for `sitewatch.configload.load_site`: the example site, and how mistakes are reported.

Every YAML text below goes through `textwrap.dedent`, so the line numbers asserted in a test can be
read straight off the text in that test (line 1 is the line after the opening triple quote).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sitewatch.configload import ConfigError, Problem, load_site
from sitewatch.siteconfig import Category, Priority, RtuBus, Site, TcpBus

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = REPO / "config" / "site.example.yaml"
EXAMPLE_DEVICES = REPO / "config" / "devices"

UNKNOWN_KEY = "unknown key"
MISSING_KEY = "required key is missing"
DUPLICATE_KEY = "duplicate key (a later value would silently replace the earlier one)"


class SiteDir:
    """A scratch site: a copy of the example profiles in `devices/`, plus files the test writes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.devices = root / "devices"
        shutil.copytree(EXAMPLE_DEVICES, self.devices)
        self.site = root / "site.yaml"

    def write_site(self, text: str) -> Path:
        self.site.write_text(textwrap.dedent(text), encoding="utf-8")
        return self.site

    def write_profile(self, name: str, text: str) -> Path:
        path = self.devices / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def load(self, text: str) -> Site:
        return load_site(self.write_site(text))

    def problems(self, text: str) -> list[Problem]:
        with pytest.raises(ConfigError) as caught:
            load_site(self.write_site(text))
        problems = caught.value.problems
        assert problems, "ConfigError must list at least one problem"
        return problems


@pytest.fixture
def site_dir(tmp_path: Path) -> SiteDir:
    return SiteDir(tmp_path)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "expected exactly one problem, got:\n" + "\n".join(
        str(p) for p in problems
    )
    return problems[0]


# --------------------------------------------------------------------------------------------
# The example site


@pytest.fixture(scope="module")
def example() -> Site:
    return load_site(EXAMPLE_SITE)


def test_example_site_loads_with_its_nodes_buses_and_devices(example: Site) -> None:
    assert example.id == "harbour-view"
    assert example.name == "海景花园 Harbour View Gardens"
    assert example.timezone == "Asia/Shanghai"
    assert list(example.nodes) == ["pumproom", "patrol-north", "patrol-south", "gate"]

    node = example.nodes["pumproom"]
    assert node.heartbeat_s == 30
    assert (node.scan.fast_ms, node.scan.normal_ms, node.scan.slow_ms) == (250, 1000, 5000)

    bus = node.buses["pumproom-gw"]
    assert isinstance(bus, TcpBus)
    assert (bus.host, bus.port, bus.timeout_s) == ("127.0.0.1", 15020, 0.5)

    units = {device_id: device.unit for device_id, device in node.devices.items()}
    assert units == {
        "fire-pump-1": 1,
        "fire-pump-2": 6,
        "jockey-pump": 2,
        "valve-station-1": 3,
        "supply-pressure": 4,
        "fire-tank": 7,
        "pumproom-leak": 5,
    }
    pump = node.devices["fire-pump-1"]
    assert (pump.node, pump.profile, pump.bus, pump.location) == (
        "pumproom",
        "fire_pump_electric",
        "pumproom-gw",
        "B2 pump room",
    )


def test_example_site_has_patrol_checkpoints_and_gate_lanes(example: Site) -> None:
    north = example.nodes["patrol-north"]
    assert {r.role for r in north.readers.values()} == {"checkpoint"}
    assert north.readers["cp-power-room"].name == "配电房 Power room"
    assert example.nodes["patrol-south"].readers["cp-garage-b1"].family == "pn532"
    gate = example.nodes["gate"]
    lanes = {(r.lane, r.direction, r.family) for r in gate.readers.values()}
    assert lanes == {("lane-in", "in", "rdm6300"), ("lane-out", "out", "wiegand")}
    assert isinstance(gate.buses["gate-rs485"], RtuBus)
    assert gate.devices["gate-relays"].points["relay1"].table.value == "coil"


def test_example_site_override_replaces_only_the_low_limit(example: Site) -> None:
    pressure = example.point("pumproom", "supply-pressure", "pressure")
    assert pressure is not None
    alarm = pressure.alarm
    assert alarm is not None
    # From the site file: `alarms: pressure: {low: 0.35}` (the profile says 0.30).
    assert alarm.low == 0.35
    assert alarm.high is None
    # Everything else still comes from pressure_transmitter.yaml.
    assert alarm.category is Category.SUPERVISORY
    assert alarm.priority is Priority.HIGH
    assert alarm.text == "Supply pressure low"
    assert alarm.deadband == 0.02
    assert (pressure.unit, pressure.deadband, pressure.value_type.value) == ("MPa", 0.01, "float32")


def test_example_site_profiles_resolve_point_details(example: Site) -> None:
    start_cause = example.point("pumproom", "fire-pump-1", "start_cause")
    assert start_cause is not None
    assert start_cause.states == {0: "none", 1: "demand", 2: "test", 3: "manual"}
    assert start_cause.alarm is not None
    assert start_cause.alarm.when == "demand"
    assert start_cause.alarm.category is Category.FIRE
    assert start_cause.alarm.priority is Priority.CRITICAL

    cable = example.point("pumproom", "pumproom-leak", "cable_fault")
    assert cable is not None
    assert (cable.bit, cable.is_bool, cable.value_type.value) == (15, True, "bool")

    run_hours = example.point("pumproom", "fire-pump-1", "run_hours")
    assert run_hours is not None
    assert run_hours.alarm is None
    assert (run_hours.scale, run_hours.is_analog) == (0.1, True)

    assert example.point("pumproom", "fire-pump-1", "no_such_point") is None
    assert example.device("pumproom", "no-such-device") is None
    assert example.device("no-such-node", "fire-pump-1") is None


def test_example_site_config_hash_is_stable(example: Site) -> None:
    again = load_site(str(EXAMPLE_SITE))  # a str path works as well as a Path
    assert example.config_hash == again.config_hash
    assert len(example.config_hash) == 16
    int(example.config_hash, 16)


# --------------------------------------------------------------------------------------------
# Valid variations


def test_override_applies_to_one_device_only(site_dir: SiteDir) -> None:
    site = site_dir.load(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              p1:
                name: Pressure 1
                profile: pressure_transmitter
                bus: gw
                unit: 1
                alarms:
                  pressure: {low: 0.4, priority: critical}
              p2:
                name: Pressure 2
                profile: pressure_transmitter
                bus: gw
                unit: 2
        """
    )
    p1 = site.point("n1", "p1", "pressure")
    p2 = site.point("n1", "p2", "pressure")
    assert p1 is not None and p1.alarm is not None
    assert p2 is not None and p2.alarm is not None
    assert (p1.alarm.low, p1.alarm.priority) == (0.4, Priority.CRITICAL)
    assert (p2.alarm.low, p2.alarm.priority) == (0.30, Priority.HIGH)
    assert site.nodes["n1"].buses["gw"].port == 502  # default


def test_override_can_disable_an_alarm_and_rtu_buses_load(site_dir: SiteDir) -> None:
    site = site_dir.load(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              rs485: {transport: rtu, device: /dev/ttyUSB0, baudrate: 19200, parity: E}
            devices:
              pump:
                name: Jockey
                profile: jockey_pump
                bus: rs485
                alarms:
                  in_auto: {enabled: false}
        """
    )
    bus = site.nodes["n1"].buses["rs485"]
    assert isinstance(bus, RtuBus)
    assert (bus.device, bus.baudrate, bus.parity) == ("/dev/ttyUSB0", 19200, "E")
    pump = site.device("n1", "pump")
    assert pump is not None
    assert pump.unit == 1  # default
    assert pump.points["in_auto"].alarm is None
    assert pump.points["fault"].alarm is not None


def test_same_unit_on_different_buses_is_fine(site_dir: SiteDir) -> None:
    site = site_dir.load(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw1: {transport: tcp, host: 10.0.0.5}
              gw2: {transport: tcp, host: 10.0.0.6}
            devices:
              a:
                name: A
                profile: jockey_pump
                bus: gw1
                unit: 1
              b:
                name: B
                profile: jockey_pump
                bus: gw2
                unit: 1
        """
    )
    assert [d.bus for d in site.nodes["n1"].devices.values()] == ["gw1", "gw2"]


# --------------------------------------------------------------------------------------------
# Mistakes: one test per kind, each checking message, key path, line and file


def test_unknown_key_at_site_level(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            profile_dir: devices
            nodes:
              n1:
                name: Node 1
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 4, "profile_dir", UNKNOWN_KEY)


def test_unknown_key_inside_a_device(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmitter
                    bus: gw
                    loaction: riser
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 14, "nodes.n1.devices.p1.loaction", UNKNOWN_KEY)


def test_unknown_key_inside_a_bus_is_reported_without_the_union_tag(site_dir: SiteDir) -> None:
    problems = site_dir.problems(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw:
                transport: tcp
                hots: 10.0.0.5
        """
    )
    assert problems == [
        Problem(str(site_dir.site), 8, "nodes.n1.buses.gw.host", MISSING_KEY),
        Problem(str(site_dir.site), 10, "nodes.n1.buses.gw.hots", UNKNOWN_KEY),
    ]


def test_missing_required_key_points_at_the_enclosing_key(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    bus: gw
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 10, "nodes.n1.devices.p1.profile", MISSING_KEY)


def test_missing_top_level_section(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 1, "nodes", MISSING_KEY)


def test_unit_out_of_range(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmitter
                    bus: gw
                    unit: 300
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        14,
        "nodes.n1.devices.p1.unit",
        "Input should be less than or equal to 247",
    )


def test_wrong_type(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                heartbeat_s: often
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        7,
        "nodes.n1.heartbeat_s",
        "Input should be a valid integer, unable to parse string as an integer",
    )


def test_bus_port_out_of_range_path_has_no_discriminator_tag(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw:
                    transport: tcp
                    host: 10.0.0.5
                    port: 0
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        11,
        "nodes.n1.buses.gw.port",
        "Input should be greater than or equal to 1",
    )


def test_yaml_syntax_error_reports_its_line(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
               name: misindented
            nodes: {}
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site), 3, "", "YAML syntax error: mapping values are not allowed here"
    )


def test_yaml_tab_indentation_is_a_syntax_error(site_dir: SiteDir) -> None:
    site_dir.site.write_text("site:\n  id: s1\n\tname: tabbed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_site(site_dir.site)
    assert caught.value.problems == [
        Problem(
            str(site_dir.site),
            3,
            "",
            "YAML syntax error: found character '\\t' that cannot start any token",
        )
    ]


def test_duplicate_key(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmitter
                    bus: gw
                    unit: 1
                    unit: 2
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 15, "nodes.n1.devices.p1.unit", DUPLICATE_KEY)


def test_duplicate_device_id(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1: {name: One, profile: pressure_transmitter, bus: gw, unit: 1}
                  p1: {name: Two, profile: pressure_transmitter, bus: gw, unit: 2}
            """
        )
    )
    assert problem == Problem(str(site_dir.site), 11, "nodes.n1.devices.p1", DUPLICATE_KEY)


def test_device_on_undefined_bus(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                  rs485: {transport: rtu, device: /dev/ttyUSB0}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmitter
                    bus: gateway
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        14,
        "nodes.n1.devices.p1.bus",
        "bus 'gateway' is not defined (defined: gw, rs485)",
    )


def test_device_on_a_node_without_buses(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                devices:
                  p1: {name: Pressure 1, profile: pressure_transmitter, bus: gw}
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        8,
        "nodes.n1.devices.p1.bus",
        "bus 'gw' is not defined (defined: none)",
    )


def test_profile_not_found(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmiter
                    bus: gw
            """
        )
    )
    expected_path = site_dir.devices / "pressure_transmiter.yaml"
    assert problem == Problem(
        str(site_dir.site),
        12,
        "nodes.n1.devices.p1.profile",
        f"profile 'pressure_transmiter' not found (looked for {expected_path})",
    )


def test_alarm_override_for_a_point_the_profile_lacks(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  pump:
                    name: Jockey
                    profile: jockey_pump
                    bus: gw
                    alarms:
                      in_auto: {priority: low}
                      runing: {when: true, category: trouble, text: Jockey running}
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        16,
        "nodes.n1.devices.pump.alarms.runing",
        "profile 'jockey_pump' has no point 'runing' (fault, in_auto, running, starts_today)",
    )


def test_invalid_profile_bit_on_a_coil(site_dir: SiteDir) -> None:
    profile_path = site_dir.write_profile(
        "relay",
        """\
        profile: relay
        description: Relay output module
        points:
          out1:
            label: Output 1
            table: coil
            address: 0
          out2:
            label: Output 2
            table: coil
            address: 1
            bit: 3
        """,
    )
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  r1: {name: Relay, profile: relay, bus: gw}
            """
        )
    )
    assert problem == Problem(
        str(profile_path), 8, "points.out2", "'bit' applies to registers, not to a coil"
    )


def test_invalid_profile_alarm_when_not_in_states(site_dir: SiteDir) -> None:
    profile_path = site_dir.write_profile(
        "mode_switch",
        """\
        profile: mode_switch
        description: Mode selector
        points:
          mode:
            label: Mode
            table: holding_register
            address: 0
            states: {0: manual, 1: automatic, 2: test}
            alarm: {when: foo, category: supervisory, text: Not in automatic}
        """,
    )
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  m1: {name: Mode, profile: mode_switch, bus: gw}
            """
        )
    )
    assert problem == Problem(
        str(profile_path),
        4,
        "points.mode",
        "alarm 'when: foo' is not one of the states (manual, automatic, test)",
    )


def test_profile_whose_name_does_not_match_its_file(site_dir: SiteDir) -> None:
    profile_path = site_dir.write_profile(
        "door_contact",
        """\
        profile: door_contact_v2
        description: Door contact
        points:
          open: {label: Door open, table: discrete_input, address: 0}
        """,
    )
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  d1: {name: Door, profile: door_contact, bus: gw}
            """
        )
    )
    assert problem == Problem(
        str(profile_path),
        1,
        "profile",
        "names 'door_contact_v2' but the file is door_contact.yaml",
    )


def test_broken_profile_used_by_two_devices_is_reported_once(site_dir: SiteDir) -> None:
    profile_path = site_dir.write_profile(
        "relay",
        """\
        profile: relay
        description: Relay output module
        points:
          out1: {label: Output 1, table: coil, address: 70000}
        """,
    )
    problems = site_dir.problems(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              r1: {name: Relay 1, profile: relay, bus: gw, unit: 1}
              r2: {name: Relay 2, profile: relay, bus: gw, unit: 2}
        """
    )
    assert problems == [
        Problem(
            str(profile_path),
            4,
            "points.out1.address",
            "Input should be less than or equal to 65535",
        )
    ]


def test_two_devices_with_the_same_unit_on_one_bus(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  pump:
                    name: Jockey
                    profile: jockey_pump
                    bus: gw
                    unit: 7
                  pressure:
                    name: Pressure
                    profile: pressure_transmitter
                    bus: gw
                    unit: 7
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        19,
        "nodes.n1.devices.pressure.unit",
        "unit 7 on bus 'gw' is already used by 'pump'",
    )


def test_analog_alarm_override_with_low_not_below_high(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  p1:
                    name: Pressure 1
                    profile: pressure_transmitter
                    bus: gw
                    alarms:
                      pressure:
                        high: 0.2
            """
        )
    )
    # The profile's low (0.30) is kept, and is not below the site's high.
    assert problem == Problem(
        str(site_dir.site),
        15,
        "nodes.n1.devices.p1.alarms.pressure",
        "'low' (0.3) must be below 'high' (0.2)",
    )


def test_analog_alarm_in_a_profile_with_low_not_below_high(site_dir: SiteDir) -> None:
    profile_path = site_dir.write_profile(
        "level_sensor",
        """\
        profile: level_sensor
        description: Tank level
        points:
          level:
            label: Level
            table: input_register
            address: 0
            type: float32
            alarm:
              low: 2.5
              high: 2.5
              category: supervisory
              text: Tank level abnormal
        """,
    )
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  tank: {name: Tank, profile: level_sensor, bus: gw}
            """
        )
    )
    assert problem == Problem(
        str(profile_path), 9, "points.level.alarm", "'low' (2.5) must be below 'high' (2.5)"
    )


def test_override_mixing_digital_and_analog_conditions(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  leak:
                    name: Leak
                    profile: leak_module
                    bus: gw
                    alarms:
                      zone1: {high: 1}
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site),
        15,
        "nodes.n1.devices.leak.alarms.zone1",
        "an alarm has either 'when' or analog limits and rates, not both",
    )


def test_site_file_that_is_not_a_mapping(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            - site
            - nodes
            """
        )
    )
    assert problem == Problem(
        str(site_dir.site), 1, "", "the site file must be a mapping with 'site' and 'nodes'"
    )


def test_missing_site_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load_site(missing)
    assert caught.value.problems == [
        Problem(str(missing), None, "", "cannot read file: No such file or directory")
    ]


def test_several_problems_in_one_file_are_all_reported(site_dir: SiteDir) -> None:
    problems = site_dir.problems(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            heartbeat_s: 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              p1:
                name: Pressure 1
                profile: pressure_transmitter
                bus: gw
                unit: 300
                loaction: riser
        """
    )
    site = str(site_dir.site)
    assert problems == [
        Problem(site, 7, "nodes.n1.heartbeat_s", "Input should be greater than or equal to 5"),
        Problem(site, 15, "nodes.n1.devices.p1.unit", "Input should be less than or equal to 247"),
        Problem(site, 16, "nodes.n1.devices.p1.loaction", UNKNOWN_KEY),
    ]


def test_problems_found_after_validation_are_all_reported(site_dir: SiteDir) -> None:
    problems = site_dir.problems(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              a: {name: A, profile: jockey_pump, bus: gx}
              b: {name: B, profile: no_such_profile, bus: gw, unit: 2}
              c: {name: C, profile: jockey_pump, bus: gw, unit: 3, alarms: {stopped: {}}}
              d: {name: D, profile: leak_module, bus: gw, unit: 4}
              d: {name: D again, profile: leak_module, bus: gw, unit: 2}
        """
    )
    site = str(site_dir.site)
    assert problems == [
        Problem(site, 14, "nodes.n1.devices.d", DUPLICATE_KEY),
        Problem(site, 10, "nodes.n1.devices.a.bus", "bus 'gx' is not defined (defined: gw)"),
        Problem(
            site,
            11,
            "nodes.n1.devices.b.profile",
            "profile 'no_such_profile' not found "
            f"(looked for {site_dir.devices / 'no_such_profile.yaml'})",
        ),
        Problem(
            site,
            12,
            "nodes.n1.devices.c.alarms.stopped",
            "profile 'jockey_pump' has no point 'stopped' (fault, in_auto, running, starts_today)",
        ),
        Problem(site, 14, "nodes.n1.devices.d.unit", "unit 2 on bus 'gw' is already used by 'b'"),
    ]


def test_config_error_text_has_one_line_per_problem(site_dir: SiteDir) -> None:
    site_dir.write_site(
        """\
        site:
          id: s1
          name: Test site
          colour: red
        nodez: {}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_site(site_dir.site)
    site = str(site_dir.site)
    assert str(caught.value).splitlines() == [
        f"{site}:4: site.colour: unknown key",
        f"{site}:1: nodes: required key is missing",
        f"{site}:5: nodez: unknown key",
    ]


# --------------------------------------------------------------------------------------------
# Key paths must be paths in the file: these fail against the current loader (see report).


def test_bad_value_for_a_multi_type_field_is_one_problem_at_its_key(site_dir: SiteDir) -> None:
    """`when` accepts bool | int | str; pydantic tags each union member in its error location.

    Those tags ('bool', 'int', 'str') are not keys in the file, and one mistake must give one
    message, at the key the user wrote.
    """
    problems = site_dir.problems(
        """\
        site:
          id: s1
          name: Test site
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              pump:
                name: Jockey
                profile: jockey_pump
                bus: gw
                alarms:
                  fault:
                    when: [1, 2]
        """
    )
    problem = only(problems)
    assert (problem.file, problem.line, problem.path) == (
        str(site_dir.site),
        16,
        "nodes.n1.devices.pump.alarms.fault.when",
    )


def test_invalid_device_id_is_reported_at_the_id(site_dir: SiteDir) -> None:
    """A bad mapping key gets pydantic's '[key]' marker in its location; the path must not."""
    problem = only(
        site_dir.problems(
            """\
            site:
              id: s1
              name: Test site
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  pump 1: {name: Jockey, profile: jockey_pump, bus: gw}
            """
        )
    )
    assert (problem.line, problem.path) == (10, "nodes.n1.devices.pump 1")
    assert problem.message == "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$'"


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (
            "{label: P, table: input_register, address: 0, type: float32, alarm: {when: true, category: trouble, text: T}}",
            "an analog point alarms with 'low'/'high' limits, not 'when'",
        ),
        (
            "{label: P, table: holding_register, address: 0, states: {0: idle, 1: run}, alarm: {when: 1, category: fire, text: T}}",
            "alarm 'when: 1' is not one of the states (idle, run)",
        ),
        (
            "{label: P, table: discrete_input, address: 0, alarm: {when: open, category: fire, text: T}}",
            "a bool point alarms with 'when: true' or 'when: false', not 'open'",
        ),
    ],
)
def test_an_alarm_that_could_never_fire_is_refused(
    tmp_path: Path, point: str, message: str
) -> None:
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "thing.yaml").write_text(
        f"profile: thing\ndescription: Thing\npoints:\n  p: {point}\n"
    )
    (tmp_path / "site.yaml").write_text(
        "site: {id: s, name: S}\nnodes:\n  n:\n    name: N\n"
        "    buses: {b: {transport: tcp, host: h}}\n"
        "    devices: {d: {name: D, profile: thing, bus: b}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_site(tmp_path / "site.yaml")
    (problem,) = caught.value.problems
    assert problem.message == message
    assert problem.path == "points.p" and problem.line == 4


def test_site_id_cloud_is_reserved(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("site: {id: cloud, name: C}\nnodes:\n  n: {name: N}\n")
    with pytest.raises(ConfigError) as caught:
        load_site(tmp_path / "site.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "site" and "reserved" in problem.message


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    (tmp_path / "devices").symlink_to(REPO / "config" / "devices")
    (tmp_path / "site.yaml").write_text(
        textwrap.dedent(
            """\
            site: {id: s, name: S}
            nodes:
              n:
                name: N
                buses: {gw: {transport: tcp, host: 127.0.0.1}}
                devices:
                  a: &leak {name: Leak A, profile: leak_module, bus: gw, unit: 1}
                  b:
                    <<: *leak
                    name: Leak B
                    unit: 2
            """
        )
    )
    site = load_site(tmp_path / "site.yaml")
    assert site.nodes["n"].devices["b"].name == "Leak B"
    assert site.nodes["n"].devices["b"].profile == "leak_module"


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "site: {id: s, name: S, timezone: Mars/Olympus}\nnodes:\n  n: {name: N}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_site(tmp_path / "site.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("site.timezone", 1)
    assert problem.message == "unknown time zone 'Mars/Olympus' (e.g. Asia/Shanghai)"


def test_a_suppression_must_name_configured_points(site_dir: SiteDir) -> None:
    problem = only(
        site_dir.problems(
            """\
            site: {id: s1, name: Test site}
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 10.0.0.5}
                devices:
                  pump: {name: Pump, profile: fire_pump_electric, bus: gw}
            suppressions:
              - name: weekly test
                node: n1
                device: pump
                points: [start_cause, stat_cause]
                weekly: [{day: mon, at: "09:00", minutes: 30}]
            """
        )
    )
    assert (problem.path, problem.line) == ("suppressions.0.points.1", 13)
    assert problem.message == "device 'pump' has no point 'stat_cause'"


def test_a_suppression_window_needs_a_day_and_a_local_time(site_dir: SiteDir) -> None:
    problems = site_dir.problems(
        """\
        site: {id: s1, name: Test site}
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              pump: {name: Pump, profile: fire_pump_electric, bus: gw}
        suppressions:
          - {name: typo, node: n1, device: pump, weekly: [{day: funday, at: "25:00", minutes: 30}]}
        """
    )
    assert {(p.path, p.line) for p in problems} == {
        ("suppressions.0.weekly.0.day", 10),
        ("suppressions.0.weekly.0.at", 10),
    }


def test_a_suppression_window_is_read_in_the_site_time_zone(site_dir: SiteDir) -> None:
    from datetime import UTC, datetime

    site = site_dir.load(
        """\
        site: {id: s1, name: Test site, timezone: Asia/Shanghai}
        nodes:
          n1:
            name: Node 1
            buses:
              gw: {transport: tcp, host: 10.0.0.5}
            devices:
              pump: {name: Pump, profile: fire_pump_electric, bus: gw}
        suppressions:
          - name: weekly test
            node: n1
            device: pump
            weekly: [{day: mon, at: "23:50", minutes: 20}]
        """
    )
    (window,) = site.suppressions
    # Monday 23:55 and Tuesday 00:05 in Shanghai are inside; Monday 23:55 UTC is not.
    assert window.active(datetime(2026, 11, 23, 15, 55, tzinfo=UTC), site.timezone)
    assert window.active(datetime(2026, 11, 23, 16, 5, tzinfo=UTC), site.timezone)
    assert not window.active(datetime(2026, 11, 23, 16, 10, tzinfo=UTC), site.timezone)
    assert not window.active(datetime(2026, 11, 23, 23, 55, tzinfo=UTC), site.timezone)
    assert window.covers("n1", "pump", "start_cause") and not window.covers("n1", "x", "y")
