"""`kprov up` reports a failed build of kprov's runtime in one line and exits 1, no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kprov.bundle import runtime
from kprov.cli import cluster
from kprov.deploy.up import UpOptions, UpResult


def _app() -> typer.Typer:
    app = typer.Typer()
    cluster.register(app)
    app.command("noop")(lambda: None)  # two commands: typer then dispatches by name
    return app


def test_a_failed_runtime_build_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    def up(options: UpOptions, progress: object, observer: object) -> UpResult:
        # a real pip failure (offline, nothing to find), raised as the runtime build raises it
        runtime._run([sys.executable, "-m", "pip", "install", "--no-index", "--disable-pip-version-check",
                      "kprov-no-such-distribution"], tmp_path)
        raise AssertionError("pip found a distribution that does not exist")

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
