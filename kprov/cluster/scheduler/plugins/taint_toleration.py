"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate rule the node out;
untolerated PreferNoSchedule taints lower the node's score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["TaintToleration", "tolerates"]


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """The Kubernetes toleration matching rule (empty key + Exists tolerates everything)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


class TaintToleration(Plugin):
    name = "TaintToleration"
    has_filter = True
    has_score = True
    unresolvable = True
    normalize = True
    reverse = True
    default_weight = 3

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return cache.tainted_nodes > 0  # no taint anywhere: nothing to reject

    def pre_score(
        self, state: CycleState, pod: PodInfo, cache: SchedulerCache, nodes: Sequence[NodeInfo]
    ) -> bool:
        if not cache.tainted_nodes:
            return False
        return any(t.get("effect") == "PreferNoSchedule" for n in nodes for t in n.taints)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        for taint in node.taints:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(tolerates(t, taint) for t in pod.tolerations):
                shown = f"{{{taint.get('key', '')}: {taint.get('value') or ''}}}"
                return (f"node(s) had untolerated taint {shown}",)
        return NO_REASONS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        return float(sum(
            1 for taint in node.taints
            if taint.get("effect") == "PreferNoSchedule"
            and not any(tolerates(t, taint) for t in pod.tolerations)
        ))
