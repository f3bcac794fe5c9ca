"""PodTopologySpread: topologySpreadConstraints. For DoNotSchedule constraints a node is
ruled out when placing the pod would make its domain exceed the global minimum by more
than maxSkew (or when it lacks the topology label); ScheduleAnyway constraints score
emptier domains higher. Domains and counts are computed once per cycle from the label
index, over the nodes that pass the pod's node selector/affinity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.plugins.node_affinity import node_matches_pod_affinity
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["PodTopologySpread"]

_SKEW = ("node(s) didn't match pod topology spread constraints",)
_MISSING = ("node(s) didn't match pod topology spread constraints (missing required label)",)


@dataclass
class _Constraint:
    key: str
    max_skew: int
    counts: Counter[str]
    minimum: int
    self_match: int
    hard: bool


class PodTopologySpread(Plugin):
    name = "PodTopologySpread"
    has_filter = True
    has_score = True
    normalize = True
    reverse = True
    default_weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        if not pod.spread_constraints:
            state[self.name] = []
            return False
        eligible = [n for n in cache.nodes.values() if node_matches_pod_affinity(pod, n)]
        prepared = []
        ns = frozenset({pod.namespace})
        for raw, selector in zip(pod.spread_constraints, pod.spread_selectors, strict=True):
            key = raw.get("topologyKey", "")
            domains = {n.labels[key] for n in eligible if key in n.labels}
            counts = cache.domains_with(cache.matching_pods(ns, selector), key)
            counts = Counter({d: counts.get(d, 0) for d in domains})
            minimum = min(counts.values()) if counts else 0
            min_domains = raw.get("minDomains")
            if min_domains and len(domains) < int(min_domains):
                minimum = 0
            prepared.append(_Constraint(
                key, int(raw.get("maxSkew", 1)), counts, minimum, 1 if selector.matches(pod.labels) else 0,
                raw.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule",
            ))
        state[self.name] = prepared
        return any(c.hard for c in prepared)

    def pre_score(
        self, state: CycleState, pod: PodInfo, cache: SchedulerCache, nodes: Sequence[NodeInfo]
    ) -> bool:
        return any(not c.hard for c in state.get(self.name) or [])

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        for c in state[self.name]:
            if not c.hard:
                continue
            if c.key not in node.labels:
                return _MISSING
            if c.counts.get(node.labels[c.key], 0) + c.self_match - c.minimum > c.max_skew:
                return _SKEW
        return NO_REASONS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        total = 0.0
        for c in state[self.name]:
            if not c.hard and c.key in node.labels:
                total += c.counts.get(node.labels[c.key], 0)
        return total
