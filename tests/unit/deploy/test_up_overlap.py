"""`kprov up` builds kprov's runtime while the lab's hosts come up, not after them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kprov.deploy import up as up_module
from kprov.deploy.up import UpOptions, UpResult


class _LabThatWatchesTheBuild:
    """A lab whose ``up`` records whether the runtime build started while it was coming up."""

    def __init__(self, started: threading.Event) -> None:
        self.index = 9
        self.started = started
        self.build_seen_during_up = False

    def up(self, count: int, progress: Any = None, dual_stack: bool = False) -> list[object]:
        self.build_seen_during_up = self.started.wait(timeout=10)
        return []


class _Applied:
    report = type("Report", (), {"ok": False})()


def _up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lab: _LabThatWatchesTheBuild,
        build: Callable[[Path], None], calls: list[str]) -> UpResult:
    """``up`` with the lab, the runtime build and the apply replaced; ``calls`` records the order."""

    def apply(*args: object, **kwargs: object) -> _Applied:
        calls.append("apply")
        return _Applied()

    monkeypatch.setattr(up_module, "Lab", lambda index: lab)
    monkeypatch.setattr(up_module, "build_runtime", build)
    monkeypatch.setattr(up_module, "lab_inventory", lambda lab, hosts: tmp_path)
    monkeypatch.setattr(up_module, "run_apply", apply)
    monkeypatch.setattr(up_module, "admin_kubeconfig_path", lambda inventory: tmp_path / "admin.conf")
    return up_module.up(UpOptions(lab_index=9, verify=False), lambda message: None)


def test_the_runtime_is_built_while_the_lab_comes_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started = threading.Event()
    lab = _LabThatWatchesTheBuild(started)
    calls: list[str] = []

    def build(repo_root: Path) -> None:
        calls.append("runtime")
        started.set()

    result = _up(monkeypatch, tmp_path, lab, build, calls)
    assert lab.build_seen_during_up, "the lab's hosts came up before kprov's runtime build began"
    assert calls == ["runtime", "apply"]
    assert "lab" in result.timings and "apply" in result.timings


def test_a_failed_early_build_is_left_to_the_apply_to_report(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    started = threading.Event()
    lab = _LabThatWatchesTheBuild(started)
    calls: list[str] = []

    def broken(repo_root: Path) -> None:
        started.set()
        raise RuntimeError("pip: no index")

    _up(monkeypatch, tmp_path, lab, broken, calls)
    assert calls == ["apply"]  # the apply ran (its own preparation builds again and names the error)
