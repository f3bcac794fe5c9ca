"""`kprov lab` parses and renders; errors come out as one clear line, exit 1."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from kprov.cli.lab import app
from kprov.lab.inventory import inventory_yaml
from kprov.lab.layout import LabLayout

runner = CliRunner()


def test_inventory_is_written_for_the_selected_instance(tmp_path: Path) -> None:
    out = tmp_path / "inv.yml"
    result = runner.invoke(app, ["--lab", "4", "inventory", "--hosts", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == inventory_yaml(LabLayout(4), 5)
    assert yaml.safe_load(out.read_text())["all"]["hosts"]["h2"]["ansible_host"] == "10.77.4.12"


def test_printed_inventory_is_the_file_unwrapped() -> None:
    """Redirected to a file (no terminal), the YAML must not be folded at a console width."""
    result = runner.invoke(app, ["--lab", "4", "inventory", "--hosts", "3"])
    assert result.exit_code == 0, result.output
    assert result.output == inventory_yaml(LabLayout(4), 3)
    assert yaml.safe_load(result.output)["all"]["hosts"]["h3"]["ansible_host"] == "10.77.4.13"


def test_instance_comes_from_env_when_no_option(tmp_path: Path) -> None:
    out = tmp_path / "inv.yml"
    result = runner.invoke(app, ["inventory", "--hosts", "2", "--out", str(out)], env={"KPROV_LAB": "6"})
    assert result.exit_code == 0, result.output
    assert "10.77.6.11" in out.read_text()


def test_bad_instance_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--lab", "12", "inventory"])
    assert result.exit_code == 1
    assert "out of range: use an integer 0..9" in result.output


def test_bad_host_count_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--lab", "1", "inventory", "--hosts", "120", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "1..99 hosts" in result.output
