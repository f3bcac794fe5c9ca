"""`kprov up` and `kprov apply` report a failed build of kprov's runtime in one line and exit 1,
no traceback (`apply --json`: that line is the document's error)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kprov.bundle import runtime
from kprov.cli import cluster, provision
from kprov.deploy.up import UpOptions, UpResult


def _app() -> typer.Typer:
    app = typer.Typer()
    cluster.register(app)
    app.command("noop")(lambda: None)  # two commands: typer then dispatches by name
    return app


def _failed_pip(where: Path) -> None:
    """A real pip failure (offline, nothing to find), raised as the runtime build raises it."""
    runtime._run([sys.executable, "-m", "pip", "install", "--no-index", "--disable-pip-version-check",
                  "kprov-no-such-distribution"], where)
    raise AssertionError("pip found a distribution that does not exist")


def test_a_failed_runtime_build_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    def up(options: UpOptions, progress: object, observer: object) -> UpResult:
        _failed_pip(tmp_path)
        raise AssertionError("unreachable")

    monkeypatch.setattr(cluster, "up", up)
    result = CliRunner().invoke(_app(), ["up", "--lab", "9"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: building kprov's runtime failed: `pip install` said: ERROR: ")
    assert "kprov-no-such-distribution" in lines[0]
    assert "run the command again" in lines[0]


def test_other_errors_still_surface(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the build's error is turned into a line: a bug elsewhere keeps its traceback."""
    def up(options: UpOptions, progress: object, observer: object) -> UpResult:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cluster, "up", up)
    result = CliRunner().invoke(_app(), ["up", "--lab", "9"])
    assert isinstance(result.exception, RuntimeError) and str(result.exception) == "a bug"


def _apply_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    def run_apply(*args: Any, **kwargs: Any) -> None:  # the cluster run's preparation builds
        _failed_pip(tmp_path)

    monkeypatch.setattr(provision, "run_apply", run_apply)
    app = typer.Typer()
    provision.register(app)
    return app


def test_apply_reports_a_failed_runtime_build_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    result = CliRunner().invoke(_apply_app(monkeypatch, tmp_path), ["apply", "-i", "hosts.yml"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: building kprov's runtime failed: `pip install` said: ERROR: ")
    assert "kprov-no-such-distribution" in lines[0]


def test_apply_json_has_the_line_as_its_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = CliRunner().invoke(_apply_app(monkeypatch, tmp_path), ["apply", "-i", "hosts.yml", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout.splitlines()[0])
    assert doc["ok"] is False and doc["error"]["type"] == "BuildError"
    assert doc["error"]["msg"].startswith("building kprov's runtime failed: `pip install` said: ERROR: ")
    assert "\n" not in doc["error"]["msg"]
