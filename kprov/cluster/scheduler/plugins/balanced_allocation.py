"""NodeResourcesBalancedAllocation: prefer nodes where cpu and memory would be used in
similar fractions after placing the pod (100 = perfectly balanced)."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo, memo_key
from kprov.cluster.scheduler.framework import CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["BalancedAllocation"]


class BalancedAllocation(Plugin):
    name = "NodeResourcesBalancedAllocation"
    has_score = True

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        if node.alloc_cpu <= 0 or node.alloc_memory <= 0:
            return 0.0
        cpu = min(1.0, (node.req_cpu + pod.cpu) / node.alloc_cpu)
        mem = min(1.0, (node.req_memory + pod.memory) / node.alloc_memory)
        # the standard deviation of two fractions is half their difference
        return (1.0 - abs(cpu - mem) / 2) * 100

    def score_batch(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[float]:
        pod_cpu, pod_memory = pod.cpu, pod.memory
        key = memo_key(self.name, pod_cpu, pod_memory)
        out = []
        for n in nodes:  # score() inlined, with min() and abs() as comparisons
            memo = n.memo
            score = memo.get(key)
            if score is not None:
                out.append(score)
                continue
            if n.alloc_cpu <= 0 or n.alloc_memory <= 0:
                out.append(0.0)
                continue
            cpu = (n.req_cpu + pod_cpu) / n.alloc_cpu
            if cpu > 1.0:
                cpu = 1.0
            mem = (n.req_memory + pod_memory) / n.alloc_memory
            if mem > 1.0:
                mem = 1.0
            gap = cpu - mem if cpu >= mem else mem - cpu
            out.append(score := (1.0 - gap / 2) * 100)
            memo[key] = score
        return out
