"""NodeResourcesFit: the pod's cpu/memory requests, one pod slot and every other resource it
asks for (ephemeral-storage, hugepages, extended resources such as ``example.com/gpu``, which
a node offers only if its status lists them) must fit in the node's allocatable minus what its
pods (bound and assumed) already request, each shortage named ``Insufficient <resource>`` as
upstream does. Scoring follows the
LeastAllocated strategy: the emptier the node after placing the pod, the higher.

When the cache knows every node has room for the pod (its floor of free cpu, memory and
slots) and the pod asks for nothing else, the filter has nothing to reject and is skipped for
the cycle."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache, memo_key
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

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return bool(pod.scalars) or not cache.fits_everywhere(pod.cpu, pod.memory)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        reasons: list[str] = []
        if len(node.pods) + 1 > node.alloc_pods:
            reasons.append(_PODS)
        if pod.cpu and node.req_cpu + pod.cpu > node.alloc_cpu:
            reasons.append(_CPU)
        if pod.memory and node.req_memory + pod.memory > node.alloc_memory:
            reasons.append(_MEMORY)
        for name, amount in pod.scalars:
            if node.req_scalars[name] + amount > node.alloc_scalars.get(name, 0):
                reasons.append(f"Insufficient {name}")
        return reasons or NO_REASONS

    def filter_batch(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> list[Sequence[str]] | None:
        cpu, memory = pod.cpu, pod.memory
        if not pod.scalars and all(
            len(n.pods) < n.alloc_pods
            and (not cpu or n.req_cpu + cpu <= n.alloc_cpu)
            and (not memory or n.req_memory + memory <= n.alloc_memory)
            for n in nodes
        ):
            return None
        return [self.filter(state, pod, n) for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        parts = []
        for requested, capacity in ((node.req_cpu + pod.cpu, node.alloc_cpu),
                                    (node.req_memory + pod.memory, node.alloc_memory)):
            free = capacity - requested
            parts.append(0.0 if capacity <= 0 or free < 0 else free * 100 / capacity)
        return sum(parts) / len(parts)

    def score_batch(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[float]:
        cpu, memory = pod.cpu, pod.memory
        key = memo_key(self.name, cpu, memory)
        out = []
        for n in nodes:
            memo = n.memo
            score = memo.get(key)
            if score is not None:
                out.append(score)
                continue
            capacity = n.alloc_cpu
            free = capacity - (n.req_cpu + cpu)
            by_cpu = 0.0 if capacity <= 0 or free < 0 else free * 100 / capacity
            capacity = n.alloc_memory
            free = capacity - (n.req_memory + memory)
            by_memory = 0.0 if capacity <= 0 or free < 0 else free * 100 / capacity
            out.append(score := (by_cpu + by_memory) / 2)
            memo[key] = score
        return out
