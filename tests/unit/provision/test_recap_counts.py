"""The recap's counters as ansible-core 2.18 keeps them (like-for-like task counts).

ansible-core counts a dynamic include ok once per file it loaded for the host (its strategy's
``_load_included_file`` increments ok; the include's own result is not counted again): a play
with an ``include_tasks`` of one task, one plain task and a handler that is an
``include_tasks`` of one task recaps ``ok=5`` under ansible-playbook 2.18.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute.results import HostStats, TaskResult

from .harness import run_fake


def _result(action: str, status: str, **extra: object) -> TaskResult:
    return TaskResult(host="h1", task=action, action=action, status=status, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["include_tasks", "include_role"])
def test_an_include_counts_ok_skipped_or_failed_as_ansible(action: str) -> None:
    stats = HostStats()
    for status in ("ok", "skipped", "failed"):
        stats.count(_result(action, status))
    assert (stats.ok, stats.skipped, stats.failed) == (1, 1, 1)


def test_other_tasks_count_ok_changed_and_ignored() -> None:
    stats = HostStats()
    for status in ("ok", "changed", "skipped"):
        stats.count(_result("command", status))
    stats.count(_result("command", "failed", ignored=True, result={"changed": True}))
    assert (stats.ok, stats.changed, stats.skipped, stats.ignored, stats.failed) == (3, 2, 1, 1, 0)


def test_includes_and_a_handler_include_recap_as_ansible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: inc.yml
    - debug: {msg: plain}
  handlers:
    - {name: h, include_tasks: hinc.yml}
""",
        "inc.yml": "- {name: inc task, debug: {msg: inc}, changed_when: true, notify: h}\n",
        "hinc.yml": "- {name: handler file task, debug: {msg: h}}\n",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    stats = report.stats["h1"]
    assert (stats.ok, stats.changed, stats.failed) == (5, 1, 0)
