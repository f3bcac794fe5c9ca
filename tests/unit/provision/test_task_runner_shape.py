"""TaskRunner stays a readable conductor (issue #57): at most 450 lines and 25 methods, with the
probe planning in execute/probes/probe_plan.py, not inside it."""

from __future__ import annotations

import ast
from pathlib import Path

EXECUTE = Path(__file__).resolve().parents[3] / "kprov" / "provision" / "execute"


def _task_runner() -> ast.ClassDef:
    tree = ast.parse((EXECUTE / "task" / "runner.py").read_text())
    return next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "TaskRunner")


def test_task_runner_file_is_at_most_450_lines() -> None:
    lines = (EXECUTE / "task" / "runner.py").read_text().count("\n")
    assert lines <= 450, lines


def test_task_runner_has_at_most_25_methods() -> None:
    methods = [node.name for node in _task_runner().body
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert len(methods) <= 25, methods


def test_probe_planning_lives_in_its_own_module() -> None:
    source = (EXECUTE / "task" / "runner.py").read_text()
    for name in ("def is_query", "def predictable_module", "def declared_keys", "def read_ahead"):
        assert name not in source
        assert name in (EXECUTE / "probes" / "probe_plan.py").read_text()
