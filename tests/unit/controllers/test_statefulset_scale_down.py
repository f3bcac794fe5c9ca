"""A StatefulSet's scale-down as upstream's processCondemned decides it: OrderedReady removes
the highest surplus ordinal first, one at a time, waits for a terminating one, and halts while
the pods are unhealthy (the conformance spec "Scaling should happen in predictable order and
halt if any stateful pod is unhealthy"); Parallel removes every surplus pod at once."""

from __future__ import annotations

from typing import Any

from kprov.cluster.controllers.workloads.statefulset import condemned_now


def _pod(ready: bool = True, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"deletionTimestamp": "2026-01-01T00:00:00Z"} if terminating else {}
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": meta, "status": status}


def test_ordered_scale_down_removes_the_highest_healthy_pod_first() -> None:
    pods = {0: _pod(), 1: _pod(), 2: _pod()}
    assert condemned_now(pods, range(0, 1), ordered=True, min_ready_s=0) == [2]
    assert condemned_now(pods, range(0, 3), ordered=True, min_ready_s=0) == []


def test_ordered_scale_down_halts_while_lower_pods_are_unhealthy() -> None:
    every_unready = {0: _pod(False), 1: _pod(False), 2: _pod(False)}
    assert condemned_now(every_unready, range(0, 0), ordered=True, min_ready_s=0) == []
    # the highest is unhealthy but the first unhealthy one is lower: it waits too
    assert condemned_now({0: _pod(), 1: _pod(False), 2: _pod(False)}, range(0, 0), True, 0) == []
    # the only unhealthy surplus pod is the highest: it goes (upstream's firstUnhealthyPod)
    assert condemned_now({0: _pod(), 1: _pod(), 2: _pod(False)}, range(0, 1), True, 0) == [2]


def test_ordered_scale_down_waits_for_a_terminating_pod() -> None:
    pods = {0: _pod(), 1: _pod(), 2: _pod(terminating=True)}
    assert condemned_now(pods, range(0, 1), ordered=True, min_ready_s=0) == []


def test_parallel_scale_down_removes_every_surplus_pod_at_once() -> None:
    pods = {0: _pod(False), 1: _pod(False), 2: _pod(terminating=True), 3: _pod()}
    assert condemned_now(pods, range(0, 1), ordered=False, min_ready_s=0) == [3, 1]


def test_a_pod_not_yet_available_for_min_ready_seconds_counts_as_unhealthy() -> None:
    fresh = _pod()
    fresh["status"]["conditions"][0]["lastTransitionTime"] = "2999-01-01T00:00:00Z"
    pods = {0: fresh, 1: _pod(), 2: _pod()}
    assert condemned_now(pods, range(0, 0), ordered=True, min_ready_s=30) == []
    assert condemned_now(pods, range(0, 0), ordered=True, min_ready_s=0) == [2]
