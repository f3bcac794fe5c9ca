"""The horizontal pod autoscaler's arithmetic on one resource metric: samples in, replicas out.

Design: as upstream's replica calculator, pure and data-driven so the unit tests need no
cluster (the normalization that follows is :mod:`.hpa_behavior`'s). An AverageValue target
is the same sum with each pod's "request" set to the target per pod and a 100 % target.

1. Utilization = the ready pods' usage over their requests, in percent. The
   ratio to the target decides; within the tolerance (0.1) nothing changes.
2. Pods without a metric, and pods not Ready, do not count at first. If they exist, the
   ratio is taken again with them filled in against the direction of the change (a missing
   pod counts 100 % of its request when scaling down, 0 when scaling up; an unready pod 0
   when scaling up), so a pod still starting cannot make the autoscaler overshoot; if that
   second ratio is within the tolerance or points the other way, nothing changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CPU_TARGET",
    "TOLERANCE",
    "MissingRequest",
    "NoMetrics",
    "PodSample",
    "Proposal",
    "propose",
]

TOLERANCE = 0.1
DEFAULT_CPU_TARGET = 80  # percent, when the HPA names none


class MissingRequest(ValueError):
    """A pod of the target has no CPU request: utilization has no denominator."""


class NoMetrics(ValueError):
    """No ready pod of the target has a metric yet."""


@dataclass(frozen=True)
class PodSample:
    name: str
    ready: bool
    request_milli: int  # the sum of its containers' CPU requests
    usage_milli: int | None  # None: the metrics API has no sample for it


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int  # percent of request, over the ready pods with metrics


def _ratio(usage: int, request: int, target: int) -> float:
    return (usage * 100 / request) / target


def propose(current: int, pods: Sequence[PodSample], target_percent: int) -> Proposal:
    """The replica count the pods' CPU utilization asks for (before normalization)."""
    if missing := [p.name for p in pods if p.request_milli <= 0]:
        raise MissingRequest(f"missing request for cpu in container(s) of pod {missing[0]}")
    measured = [p for p in pods if p.ready and p.usage_milli is not None]
    if not measured:
        raise NoMetrics("did not receive metrics for any ready pods")
    usage = sum(p.usage_milli or 0 for p in measured)
    request = sum(p.request_milli for p in measured)
    utilization = int(usage * 100 / request)
    ratio = _ratio(usage, request, target_percent)
    unmeasured = [p for p in pods if p.usage_milli is None]
    unready = [p for p in pods if not p.ready and p.usage_milli is not None]
    if not unmeasured and not unready:
        if abs(ratio - 1.0) <= TOLERANCE:
            return Proposal(current, utilization)
        return Proposal(math.ceil(ratio * len(measured)), utilization)
    if abs(ratio - 1.0) <= TOLERANCE:
        return Proposal(current, utilization)
    filled_usage, filled_request, count = usage, request, len(measured)
    for pod in unmeasured:  # against the direction of the change
        filled_usage += pod.request_milli if ratio < 1.0 else 0
        filled_request += pod.request_milli
        count += 1
    if ratio > 1.0:
        for pod in unready:
            filled_request += pod.request_milli
            count += 1
    new_ratio = _ratio(filled_usage, filled_request, target_percent)
    if abs(new_ratio - 1.0) <= TOLERANCE or (new_ratio < 1.0) != (ratio < 1.0):
        return Proposal(current, utilization)
    replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, utilization)
    return Proposal(replicas, utilization)

