"""PodTopologySpread: topologySpreadConstraints. For DoNotSchedule constraints a node is
ruled out when placing the pod would make its domain exceed the global minimum by more
than maxSkew (or when it lacks the topology label); ScheduleAnyway constraints score
emptier domains higher. Counts are computed once per cycle from the label index; the
domains (values of the topology key over the nodes that pass the pod's node
selector/affinity) are remembered in the cache's ``domain_memo`` per (key, selector,
affinity) until a node's labels change: with 2,000 nodes, listing them for every pod
dominated the scheduler's time.

During preemption, ``add_pod``/``remove_pod`` move a would-be victim in or out of its
domain's count (when it is in the pod's namespace, matches the constraint's selector and sits
on a node the pod could use) and recompute the global minimum, as upstream's PreFilter
extensions do: the victims a spread constraint needs gone are then seen as gone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from kprov.cluster.api.selectors import LabelSelector
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
    selector: LabelSelector
    domains: frozenset[str]
    min_domains: int

    def recompute_minimum(self) -> None:
        """The smallest count over the eligible domains (0 while one has no matching pod)."""
        present = [n for d, n in self.counts.items() if n > 0 and d in self.domains]
        full = len(present) == len(self.domains)
        self.minimum = min(present) if present and full and len(self.domains) >= self.min_domains else 0


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
        prepared = []
        ns = frozenset({pod.namespace})
        for raw, selector in zip(pod.spread_constraints, pod.spread_selectors, strict=True):
            key = raw.get("topologyKey", "")
            domains = _domains(cache, pod, key)
            # counts of the domains that have matching pods (the others count 0): never a
            # pass over every domain, which with the hostname key is every node
            placed = cache.domains_with(cache.matching_pods(ns, selector), key)
            constraint = _Constraint(
                key, int(raw.get("maxSkew", 1)), Counter({d: n for d, n in placed.items() if d in domains}),
                0, 1 if selector.matches(pod.labels) else 0,
                raw.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule",
                selector, domains, int(raw.get("minDomains") or 0),
            )
            constraint.recompute_minimum()
            prepared.append(constraint)
        state[self.name] = prepared
        return any(c.hard for c in prepared)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._count(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._count(state, pod, other, node, -1)

    def _count(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        constraints: list[_Constraint] = state.get(self.name) or []
        if other.namespace != pod.namespace or not constraints:
            return
        if any(c.key not in node.labels for c in constraints) or not node_matches_pod_affinity(pod, node):
            return
        for c in constraints:
            domain = node.labels[c.key]
            if domain in c.domains and c.selector.matches(other.labels):
                c.counts[domain] += delta
                c.recompute_minimum()

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


_MEMO_LIMIT = 4096  # distinct (key, selector, affinity) shapes kept; a few in practice


def _domains(cache: SchedulerCache, pod: PodInfo, key: str) -> frozenset[str]:
    """Values of label ``key`` on the nodes ``pod``'s node selector and required node affinity allow."""
    terms = pod.required_node_terms
    memo_key = (
        "spread-domains", key, tuple(sorted(pod.node_selector.items())),
        None if terms is None else orjson.dumps(terms, option=orjson.OPT_SORT_KEYS),
    )
    found = cache.domain_memo.get(memo_key)
    if found is None:
        found = frozenset(
            n.labels[key]
            for n in cache.nodes.values()
            if key in n.labels and node_matches_pod_affinity(pod, n)
        )
        if len(cache.domain_memo) >= _MEMO_LIMIT:
            cache.domain_memo.clear()
        cache.domain_memo[memo_key] = found
    return found  # type: ignore[no-any-return]
