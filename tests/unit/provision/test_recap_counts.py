"""The recap's counters as ansible-core's strategy keeps them (like-for-like task counts)."""

from __future__ import annotations

import pytest

from kprov.provision.execute.results import HostStats, TaskResult


def _result(action: str, status: str, **extra: object) -> TaskResult:
    return TaskResult(host="h1", task=action, action=action, status=status, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["include_tasks", "include_role"])
def test_an_include_that_loaded_counts_no_ok(action: str) -> None:
    stats = HostStats()
    stats.count(_result(action, "ok"))
    stats.count(_result("debug", "ok"))
    assert (stats.ok, stats.changed, stats.skipped) == (1, 0, 0)


@pytest.mark.parametrize("action", ["include_tasks", "include_role"])
def test_a_skipped_or_failed_include_counts_as_ansible(action: str) -> None:
    stats = HostStats()
    stats.count(_result(action, "skipped"))
    stats.count(_result(action, "failed"))
    assert (stats.ok, stats.skipped, stats.failed) == (0, 1, 1)


def test_other_tasks_count_ok_changed_and_ignored() -> None:
    stats = HostStats()
    for status in ("ok", "changed", "skipped"):
        stats.count(_result("command", status))
    stats.count(_result("command", "failed", ignored=True, result={"changed": True}))
    assert (stats.ok, stats.changed, stats.skipped, stats.ignored, stats.failed) == (3, 2, 1, 1, 0)
