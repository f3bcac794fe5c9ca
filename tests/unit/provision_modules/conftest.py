"""Contexts for module tests: the real local connector (a temp dir on this machine) or a fake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.connect.local import LocalConnector
from kprov.provision.execute import RunOptions
from kprov.provision.modules import ModuleContext, ModuleResult, get_module
from kprov.provision.pipelines import apply


@pytest.fixture
def run_local(tmp_path: Path) -> Callable[..., ModuleResult]:
    """``run_local(module, args, check=False, diff=True)`` on this machine, files from tmp_path."""
    connector = LocalConnector()

    def find_file(name: str, kind: str) -> Path:
        path = tmp_path / kind / name
        if not path.exists():
            raise FileNotFoundError(name)
        return path

    def run(module: str, args: dict[str, Any], *, check: bool = False, diff: bool = True,
            render: Callable[[str], str] = str) -> ModuleResult:
        ctx = ModuleContext(connector=connector, check_mode=check, diff=diff,
                            render_template=lambda text, settings: render(text),
                            find_file=find_file)
        return get_module(module).run(ctx, args)

    return run


@pytest.fixture
def local_play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``local_play(task, check=False)``: a one-task play (``task`` in YAML flow style) applied
    to this machine through a local connection; the run's result."""
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1: {ansible_connection: local}\n")

    def play(task: str, *, check: bool = False) -> Any:
        (tmp_path / "site.yml").write_text(f"- hosts: h1\n  gather_facts: false\n  tasks:\n    - {task}\n")
        return apply([str(tmp_path / "hosts.yml")], tmp_path / "site.yml", RunOptions(check=check))

    return play
