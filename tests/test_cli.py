"""The `sitewatch` command: help on every subcommand, and check-config's output."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitewatch.cli import app
from tests.conftest import EXAMPLE_SITE, ROOT

runner = CliRunner()

COMMANDS = [
    [],
    ["check-config"],
    ["demo"],
    ["cloud"],
    ["cloud", "run"],
    ["edge"],
    ["edge", "run"],
    ["sim"],
    ["sim", "serve"],
    ["sim", "run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "sitewatch")
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_check_config_summarises_a_valid_site() -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE_SITE)])
    assert result.exit_code == 0, result.output
    assert "harbour-view" in result.output
    assert "fire-pump-1" in result.output and "fire_pump_electric" in result.output
    assert "is valid" in result.output


def test_check_config_prints_each_problem_with_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "devices").symlink_to(ROOT / "config" / "devices")
    site = tmp_path / "site.yaml"
    site.write_text(
        textwrap.dedent(
            """\
            site: {id: s1, name: Test}
            nodes:
              n1:
                name: Node 1
                buses:
                  gw: {transport: tcp, host: 127.0.0.1}
                devices:
                  p1: {name: Pump, profile: fire_pump_electric, bus: gw, unit: 300}
                  p2: {name: Pump, profile: fire_pump_electric, bus: nowhere, colour: red}
            """
        )
    )
    result = runner.invoke(app, ["check-config", str(site)])
    assert result.exit_code == 2
    output = re.sub(r"\s+", " ", result.output)
    assert (
        f"{site}:8: nodes.n1.devices.p1.unit: Input should be less than or equal to 247" in output
    )
    assert f"{site}:9: nodes.n1.devices.p2.colour: unknown key" in output


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = ci.strip().splitlines()[-1]
    assert command in readme, "the README's test command and .ci/run have drifted apart"


def test_sim_run_refuses_a_scenario_that_names_what_the_site_lacks(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        textwrap.dedent(
            """\
            name: bad
            node: pumproom
            steps:
              - {at: 0, action: leak, device: nope}
              - {at: 1, action: set, device: fire-pump-1, point: colour, value: 1}
              - {at: 2, action: explode, device: fire-pump-1}
            """
        )
    )
    result = runner.invoke(app, ["sim", "run", str(scenario), "--site", str(EXAMPLE_SITE)])
    assert result.exit_code == 2
    assert "steps.2.action: Input should be 'normal'" in result.output
    scenario.write_text("\n".join(scenario.read_text().splitlines()[:-1]) + "\n")
    result = runner.invoke(app, ["sim", "run", str(scenario), "--site", str(EXAMPLE_SITE)])
    assert result.exit_code == 2
    output = re.sub(r"\s+", " ", result.output)
    assert "steps.0 (leak at 0 s): device 'nope' is not on node 'pumproom'" in output
    assert (
        "steps.1 (set at 1 s): device 'fire-pump-1' (fire_pump_electric) has no point 'colour'"
        in output
    )


@pytest.mark.parametrize(
    "command",
    [
        ["edge", "run", "--node", "pumproom", "--mqtt", "http://nope"],
        ["cloud", "run", "--mqtt", "ftp://x"],
        ["demo", "--mqtt", "mqtt://"],
    ],
)
def test_a_bad_broker_url_is_one_clear_error(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--site", str(EXAMPLE_SITE)])
    assert result.exit_code == 2
    assert "error --mqtt: broker URL" in re.sub(r"\s+", " ", result.output)
    assert "Traceback" not in result.output


def test_sim_run_refuses_cards_and_values_that_do_not_fit(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        textwrap.dedent(
            """\
            name: bad
            node: gate
            steps:
              - {at: 0, action: tap, reader: exit-reader, card: "W26:300:1"}
              - {at: 0, action: tap, reader: entry-reader, card: "XYZ"}
              - {at: 0, action: tap, node: patrol-south, reader: cp-garage-b1, card: "0102"}
              - {at: 0, action: set, device: gate-relays, point: relay1, value: 3}
              - {at: 0, action: set, node: pumproom, device: fire-pump-1, point: start_cause, value: panic}
              - {at: 0, action: pressure, node: pumproom, device: supply-pressure, value: high}
            """
        )
    )
    result = runner.invoke(app, ["sim", "run", str(scenario), "--site", str(EXAMPLE_SITE)])
    assert result.exit_code == 2
    output = re.sub(r"\s+", " ", result.output)
    for expected in [
        "steps.0 (tap at 0 s): card 'W26:300:1' is not W26:<facility 0-255>:<number 0-65535>",
        "steps.1 (tap at 0 s): card 'XYZ' is not 10 hex digits for a rdm6300 reader",
        "steps.2 (tap at 0 s): card '0102' is not 8 or 14 or 20 hex digits for a pn532 reader",
        "steps.3 (set at 0 s): relay1 needs true or false, not 3",
        "steps.4 (set at 0 s): start_cause needs one of the states none, demand, test, manual",
        "steps.5 (pressure at 0 s): 'pressure' needs a number 'value' in MPa",
    ]:
        assert expected in output, (expected, output)
