"""NodeAffinity: spec.nodeSelector and required node affinity must match the node's labels
(and metadata.name fields); preferred node affinity terms add their weights to the score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kprov.cluster.api.kinds.nodeselector import requirement_matches
from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NodeAffinity", "node_matches_pod_affinity", "term_matches"]

_REASON = ("node(s) didn't match Pod's node affinity/selector",)


def term_matches(term: dict[str, Any], node: NodeInfo) -> bool:
    """A NodeSelectorTerm: all its expressions and fields match (an empty term matches nothing)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(requirement_matches(r, node.labels) for r in exprs):
        return False
    return all(requirement_matches(r, {"metadata.name": node.name}) for r in fields)


def node_matches_pod_affinity(pod: PodInfo, node: NodeInfo) -> bool:
    for key, value in pod.node_selector.items():
        if node.labels.get(key) != value:
            return False
    if pod.required_node_terms is None:
        return True
    return any(term_matches(t, node) for t in pod.required_node_terms)


class NodeAffinity(Plugin):
    name = "NodeAffinity"
    has_filter = True
    has_score = True
    unresolvable = True
    normalize = True
    default_weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return bool(pod.node_selector) or pod.required_node_terms is not None

    def pre_score(
        self, state: CycleState, pod: PodInfo, cache: SchedulerCache, nodes: Sequence[NodeInfo]
    ) -> bool:
        return bool(pod.preferred_node_terms)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        return NO_REASONS if node_matches_pod_affinity(pod, node) else _REASON

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        return float(sum(
            int(p.get("weight", 0)) for p in pod.preferred_node_terms
            if term_matches(p.get("preference") or {}, node)
        ))
