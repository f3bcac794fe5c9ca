"""The HPA's arithmetic: samples in, replicas out (upstream's replica calculator cases);
the autoscaling/v1 kind's defaults and validation."""

from __future__ import annotations

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.controllers.autoscaling.replica_calc import (
    MissingRequest,
    NoMetrics,
    PodSample,
    propose,
)


def pods(*usages: int | None, request: int = 100, ready: bool = True) -> list[PodSample]:
    return [PodSample(f"p{i}", ready, request, u) for i, u in enumerate(usages)]


@pytest.mark.parametrize(("usages", "target", "replicas", "utilization"), [
    ((50, 50, 50), 50, 3, 50),          # on target
    ((54, 54, 54), 50, 3, 54),          # within the 0.1 tolerance: no change
    ((100, 100, 100), 50, 6, 100),      # twice the target: twice the pods
    ((20, 20, 20, 20), 50, 2, 20),      # 0.4 of the target: ceil(0.4 x 4)
    ((1000,), 50, 20, 1000),            # a busy single pod asks for many (normalize bounds it)
])
def test_ratio_of_ready_pods(usages: tuple[int, ...], target: int, replicas: int, utilization: int) -> None:
    proposal = propose(len(usages), pods(*usages), target)
    assert (proposal.replicas, proposal.utilization) == (replicas, utilization)


def test_a_pod_without_metrics_counts_full_when_scaling_down() -> None:
    # ready: 10% of target 50 -> down; the missing pod counted at 100% of its request
    # gives (10 + 10 + 100) / 300 = 40% -> ratio 0.8 -> ceil(0.8 x 3) = 3: no change
    assert propose(3, [*pods(10, 10), PodSample("new", True, 100, None)], 50).replicas == 3


def test_a_pod_without_metrics_counts_zero_when_scaling_up() -> None:
    # ready: 200% of target 50 -> up; missing counted 0: 400 / 300 = 133% -> 2.67 x 3 -> 8
    assert propose(3, [*pods(200, 200), PodSample("new", True, 100, None)], 50).replicas == 8


def test_unready_pods_count_zero_when_scaling_up_and_are_ignored_down() -> None:
    up = propose(2, [*pods(150), PodSample("starting", False, 100, 900)], 50)
    assert up.replicas == 3  # (150 + 0) / 200 = 75% -> 1.5 x 2 = 3, not the 900 of a starting pod
    down = propose(2, [*pods(10), PodSample("starting", False, 100, 900)], 50)
    assert down.replicas == 1  # only the ready pod's 10%: ceil(0.2 x 1)


def test_a_fill_that_flips_the_direction_changes_nothing() -> None:
    # ready at 40% of 50 (down), but the missing pods counted full bring it above 1
    assert propose(4, [*pods(40), *pods(None, None, None)], 50).replicas == 4


def test_missing_request_and_no_metrics_are_errors() -> None:
    with pytest.raises(MissingRequest, match="missing request for cpu"):
        propose(1, [PodSample("p", True, 0, 10)], 50)
    with pytest.raises(NoMetrics, match="did not receive metrics for any ready pods"):
        propose(1, pods(None), 50)


def test_hpa_validation_and_defaults() -> None:
    info = REGISTRY.get("autoscaling", "v1", "horizontalpodautoscalers")
    assert info is not None and info.namespaced and "hpa" in info.short_names
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web",
           "namespace": "default"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                 "name": "web"}, "maxReplicas": 3}}
    apply_defaults(info, hpa)
    assert hpa["spec"]["minReplicas"] == 1
    assert validate(info, hpa) == []
    bad = {**hpa, "spec": {"scaleTargetRef": {"kind": "Deployment"}, "minReplicas": 4, "maxReplicas": 2}}
    assert [str(c) for c in validate(info, bad)] == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
        "spec.scaleTargetRef.name: Required value",
    ]


@pytest.mark.parametrize(("usages", "per_pod", "replicas"), [
    ((200, 200), 100, 4),  # AverageValue: each pod at twice the per-pod target
    ((50, 50, 50, 50), 100, 2),
    ((105, 95), 100, 2),  # within the tolerance
])
def test_average_value_targets_use_the_same_sum(usages: tuple[int, ...], per_pod: int, replicas: int) -> None:
    samples = [PodSample(f"p{i}", True, per_pod, u) for i, u in enumerate(usages)]
    assert propose(len(usages), samples, 100).replicas == replicas
