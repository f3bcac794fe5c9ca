"""The phase manager (order, dry run, clean-up, always-phases) and the CLI's -e parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from kprov.cli.provision import parse_extra_vars
from kprov.provision.execute import RunOptions
from kprov.provision.phases import PhaseManager
from kprov.provision.pipelines import open_run


class _Phase:
    def __init__(self, title: str, calls: list[str], *, fail: bool = False, always: bool = False) -> None:
        self.title, self.calls, self.fail, self.always = title, calls, fail, always

    def should_run(self, run: object) -> bool:
        return True

    def run(self, run: object) -> None:
        self.calls.append(f"run {self.title}")
        if self.fail:
            raise RuntimeError(self.title)

    def dry_run(self, run: object) -> None:
        self.calls.append(f"dry {self.title}")

    def cleanup(self, run: object) -> None:
        self.calls.append(f"cleanup {self.title}")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts").write_text("h1\n")
    ctx = open_run([str(tmp_path / "hosts")], RunOptions())
    yield ctx
    ctx.log.close()


def test_failure_cleans_up_finished_phases_in_reverse_and_runs_always_phases(run) -> None:
    calls: list[str] = []
    phases = [
        _Phase("a", calls),
        _Phase("b", calls),
        _Phase("c", calls, fail=True),
        _Phase("d", calls),
        _Phase("disconnect", calls, always=True),
    ]
    with pytest.raises(RuntimeError, match="c"):
        PhaseManager(phases).execute(run)  # type: ignore[arg-type]
    assert calls == ["run a", "run b", "run c", "cleanup b", "cleanup a", "run disconnect"]


def test_dry_run_uses_the_dry_form(run) -> None:
    calls: list[str] = []
    PhaseManager([_Phase("a", calls), _Phase("b", calls)], dry_run=True).execute(run)  # type: ignore[list-item]
    assert calls == ["dry a", "dry b"]
    assert "phase: a (dry run)" in run.log.path.read_text()


def test_extra_vars_forms(tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("from_file: 1\nshared: file\n")
    parsed = parse_extra_vars(["a=1 b=two", f"@{tmp_path / 'vars.yml'}", '{"shared": "json", "n": [1]}'])
    assert parsed == {"a": "1", "b": "two", "from_file": 1, "shared": "json", "n": [1]}
    with pytest.raises(typer.BadParameter, match="key=value"):
        parse_extra_vars(["novalue"])
