"""kprov.deploy.apply: the apply/plan action's phases, in order, over every -i source (the
engine's run replaced by a recording fake: this is the action's logic, not the engine)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import kprov.deploy.prepare as prepare
import kprov.deploy.scale_in as scale_in
from kprov.deploy.apply import PreflightSkipError, run_apply, run_plan
from kprov.deploy.playbooks import SITE_PLAYBOOK
from kprov.provision import pipelines
from kprov.provision.execute import RunOptions, RunReport

SOURCES = ["inv/a.yml", "inv/b.yml"]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {"removed_from": None}

    def fake_run(sources: list[str], path: Path, options: RunOptions, observer: object, *,
                 meanwhile: Any, before_plays: list[Any]) -> RunReport:
        seen.update(sources=sources, path=path, phases=[type(p).__name__ for p in before_plays],
                    resolve_first=options.resolve_first, check=options.check)
        meanwhile()  # the engine calls it while hosts connect
        seen["extra_vars"] = dict(options.extra_vars)
        return RunReport()

    def fake_plan(*args: Any, **kwargs: Any) -> RunReport:
        args[2].check = True
        return fake_run(*args, **kwargs)

    def fake_prepare(sources: list[str]) -> Any:
        seen["prepared_for"] = sources
        return SimpleNamespace(extra_vars={"kprov_pki_dir": "/pki", "given": "prepared"})

    def fake_departed(sources: list[str]) -> list[str]:
        seen["departed_from"] = sources
        return ["h9"]

    def fake_remove(sources: list[str], progress: Any) -> list[str]:
        seen["removed_from"] = sources
        return ["removal of h9"]

    monkeypatch.setattr(pipelines, "apply", fake_run)
    monkeypatch.setattr(pipelines, "plan", fake_plan)
    monkeypatch.setattr(prepare, "prepare_cluster", fake_prepare)
    monkeypatch.setattr(scale_in, "departed_nodes", fake_departed)
    monkeypatch.setattr(scale_in, "remove_departed_nodes", fake_remove)
    return seen


def test_apply_of_the_cluster_playbook_runs_every_phase_over_every_source(recorded: dict[str, Any]) -> None:
    outcome = run_apply(SOURCES, str(SITE_PLAYBOOK), RunOptions(extra_vars={"given": "by -e"}))
    assert recorded["sources"] == SOURCES and recorded["path"] == SITE_PLAYBOOK.resolve()
    assert recorded["phases"] == ["PreflightPhase"] and recorded["resolve_first"]
    assert recorded["prepared_for"] == SOURCES  # not only the first -i
    assert recorded["extra_vars"] == {"kprov_pki_dir": "/pki", "given": "by -e"}  # -e still wins
    assert recorded["departed_from"] == SOURCES and recorded["removed_from"] == SOURCES
    assert outcome.removed == ["removal of h9"] and outcome.would_remove == []


def test_plan_names_the_departed_nodes_and_removes_none(recorded: dict[str, Any]) -> None:
    outcome = run_plan(SOURCES, str(SITE_PLAYBOOK), RunOptions())
    assert recorded["check"] is True
    assert outcome.would_remove == ["h9"] and outcome.removed == [] and recorded["removed_from"] is None


def test_a_limited_run_removes_no_node(recorded: dict[str, Any]) -> None:
    outcome = run_apply(SOURCES, str(SITE_PLAYBOOK), RunOptions(limit="h1"))
    assert "departed_from" not in recorded and outcome.removed == []


def test_a_plain_playbook_gets_no_cluster_phase(recorded: dict[str, Any], tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  tasks: []\n")
    outcome = run_apply(SOURCES, str(playbook), RunOptions())
    assert recorded["phases"] == [] and not recorded["resolve_first"]
    assert "prepared_for" not in recorded and "departed_from" not in recorded
    assert outcome.removed == []


def test_an_unknown_preflight_check_to_skip_is_refused_before_any_run(recorded: dict[str, Any]) -> None:
    with pytest.raises(PreflightSkipError):
        run_apply(SOURCES, str(SITE_PLAYBOOK), RunOptions(), skip_preflight=frozenset({"no-such-check"}))
    assert "sources" not in recorded
