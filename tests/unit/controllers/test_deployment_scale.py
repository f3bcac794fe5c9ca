"""How a Deployment's ReplicaSets share a change of replicas (proportional scaling)."""

from __future__ import annotations

from kprov.cluster.controllers.workloads.deployment_scale import (
    active_or_latest,
    is_saturated,
    is_scaling_event,
    proportional_sizes,
)


def deployment(replicas: int, surge: int = 3, unavailable: int = 2) -> dict:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    return {"spec": {"replicas": replicas, "strategy": strategy}, "status": {"replicas": 13}}


def rs(name: str, replicas: int, desired: int, max_: int, created: str, available: int = 0) -> dict:
    annotations = {
        "deployment.kubernetes.io/desired-replicas": str(desired),
        "deployment.kubernetes.io/max-replicas": str(max_),
    }
    return {
        "metadata": {"name": name, "annotations": annotations, "creationTimestamp": created},
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available},
    }


def test_scaling_mid_rollout_spreads_the_new_replicas_in_proportion() -> None:
    # upstream's conformance case: 10 replicas mid-rollout (8 old, 5 new), scaled to 30
    old = rs("old", 8, 10, 13, "2026-01-01T00:00:00Z", available=8)
    new = rs("new", 5, 10, 13, "2026-01-01T00:01:00Z")
    d = deployment(30)
    assert is_scaling_event(d, [old, new])
    sizes = {r["metadata"]["name"]: size for r, size in proportional_sizes(d, new, [old])}
    assert sizes == {"old": 20, "new": 13}
    assert active_or_latest(new, [old]) is None and not is_saturated(d, new)


def test_scaling_down_takes_the_leftover_from_the_largest() -> None:
    old = rs("old", 20, 30, 33, "2026-01-01T00:00:00Z")
    new = rs("new", 13, 30, 33, "2026-01-01T00:01:00Z")
    sizes = {r["metadata"]["name"]: size for r, size in proportional_sizes(deployment(10), new, [old])}
    assert sum(sizes.values()) == 13 and sizes["old"] > sizes["new"]


def test_no_event_when_the_annotations_agree_and_a_single_set_takes_all() -> None:
    only = rs("only", 10, 10, 13, "2026-01-01T00:00:00Z", available=10)
    idle = rs("idle", 0, 5, 6, "2025-01-01T00:00:00Z")
    assert not is_scaling_event(deployment(10), [only, idle])
    assert active_or_latest(None, [only, idle]) is only
    assert is_saturated(deployment(10), only)
