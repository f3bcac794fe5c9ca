"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods, unless the pod
tolerates the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.plugins.taint_toleration import tolerates
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NodeUnschedulable"]

_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REASON = ("node(s) were unschedulable",)


class NodeUnschedulable(Plugin):
    name = "NodeUnschedulable"
    has_filter = True
    unresolvable = True

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return cache.unschedulable_nodes > 0  # no cordoned node: nothing to reject

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        if node.unschedulable and not any(tolerates(t, _TAINT) for t in pod.tolerations):
            return _REASON
        return NO_REASONS
