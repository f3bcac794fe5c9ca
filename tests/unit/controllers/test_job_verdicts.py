"""The Job controller's pure verdicts: failure (backoff limit, deadline), success criteria,
and the status fields left out when empty."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kprov.cluster.controllers.workloads.job_verdicts import (
    failure_verdict,
    success_reached,
    tidy_status,
    uncounted_pods,
)

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def _pod(restarts: int) -> dict[str, Any]:
    return {"metadata": {}, "status": {"containerStatuses": [{"restartCount": restarts}]}}


@pytest.mark.parametrize(
    ("spec", "status", "active", "reason", "left"),
    [
        ({}, {"failed": 6}, [], None, None),  # the default limit is 6: the 7th failure fails it
        ({}, {"failed": 7}, [], "BackoffLimitExceeded", None),
        ({"backoffLimit": 0}, {"failed": 1}, [], "BackoffLimitExceeded", None),
        # restarts count only under OnFailure
        ({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}, {}, [_pod(3)],
         "BackoffLimitExceeded", None),
        ({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never"}}}, {}, [_pod(3)], None, None),
        ({"activeDeadlineSeconds": 60}, {"startTime": "2026-11-27T11:59:30Z"}, [], None, 30.0),
        ({"activeDeadlineSeconds": 60}, {"startTime": "2026-11-27T11:58:00Z"}, [], "DeadlineExceeded", None),
        ({"activeDeadlineSeconds": 60}, {}, [], None, None),  # not started: no deadline yet
    ],
)
def test_failure_verdict(spec: dict[str, Any], status: dict[str, Any], active: list[dict[str, Any]],
                         reason: str | None, left: float | None) -> None:
    target, again = failure_verdict(spec, status, active, NOW)
    assert (target or {}).get("reason") == reason
    assert again == left
    if target is not None:
        assert target["type"] == "FailureTarget" and target["status"] == "True"
        assert target["lastTransitionTime"] == "2026-11-27T12:00:00Z"


@pytest.mark.parametrize(
    ("spec", "status", "completed", "active", "reached"),
    [
        ({"completions": 3}, {"succeeded": 2}, set(), [], False),
        ({"completions": 3}, {"succeeded": 3}, set(), [{}], True),
        ({}, {"succeeded": 1}, set(), [{}], False),  # no completions: one success and none active
        ({}, {"succeeded": 1}, set(), [], True),
        ({"completionMode": "Indexed", "completions": 2}, {"succeeded": 5}, {0}, [], False),
        ({"completionMode": "Indexed", "completions": 2}, {}, {0, 1}, [], True),
    ],
)
def test_success_reached(spec: dict[str, Any], status: dict[str, Any], completed: set[int],
                         active: list[dict[str, Any]], reached: bool) -> None:
    assert success_reached(spec, status, completed, active) is reached


def test_tidy_status_leaves_out_zero_counters_and_empty_indexes() -> None:
    status: dict[str, Any] = {"active": 0, "succeeded": 2, "failed": 0, "completedIndexes": ""}
    tidy_status(status, indexed=True)
    assert status == {"succeeded": 2, "uncountedTerminatedPods": {}}


def test_uncounted_pods_leave_out_empty_lists() -> None:
    assert uncounted_pods([], []) == {}
    assert uncounted_pods(["a"], []) == {"succeeded": ["a"]}
    assert uncounted_pods([], ["b"]) == {"failed": ["b"]}
