"""NodeResourcesFit: the pod's cpu/memory requests and one pod slot must fit in the node's
allocatable minus what its pods (bound and assumed) already request. Scoring follows the
LeastAllocated strategy: the emptier the node after placing the pod, the higher."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NodeResourcesFit"]

_PODS = "Too many pods"
_CPU = "Insufficient cpu"
_MEMORY = "Insufficient memory"


class NodeResourcesFit(Plugin):
    name = "NodeResourcesFit"
    has_filter = True
    has_score = True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        reasons: list[str] = []
        if len(node.pods) + 1 > node.alloc_pods:
            reasons.append(_PODS)
        if pod.cpu and node.req_cpu + pod.cpu > node.alloc_cpu:
            reasons.append(_CPU)
        if pod.memory and node.req_memory + pod.memory > node.alloc_memory:
            reasons.append(_MEMORY)
        return reasons or NO_REASONS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        parts = []
        for requested, capacity in ((node.req_cpu + pod.cpu, node.alloc_cpu),
                                    (node.req_memory + pod.memory, node.alloc_memory)):
            free = capacity - requested
            parts.append(0.0 if capacity <= 0 or free < 0 else free * 100 / capacity)
        return sum(parts) / len(parts)
