"""InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, the required
anti-affinity of pods already placed (symmetry), and preferred terms for scoring.

All lookups go through the cache's label indexes: pre_filter turns every term into the set
of topology domains (node label values) holding matching pods, so the per-node filter is a
dictionary lookup. A pod whose affinity matches no pod anywhere may still go where it
matches itself (the first pod of a group), as in Kubernetes.

During preemption ``add_pod``/``remove_pod`` move a would-be victim in or out of the domain
counts of the incoming pod's own affinity and anti-affinity terms and of the placed pods'
anti-affinity terms that forbid it, so preempting the pods an anti-affinity term forbids, or
whose anti-affinity forbids the incoming pod, makes room.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["InterPodAffinity"]

_EXISTING = ("node(s) didn't satisfy existing pods anti-affinity rules",)
_ANTI = ("node(s) didn't match pod anti-affinity rules",)
_AFFINITY = ("node(s) didn't match pod affinity rules",)


@dataclass
class _Prepared:
    existing_anti: dict[str, tuple[str, Counter[str]]]  # by term identity
    anti: list[tuple[str, Counter[str]]]
    affinity: list[tuple[str, Counter[str]]]
    affinity_self_ok: bool
    preferred: list[tuple[str, int, Counter[str]]]


class InterPodAffinity(Plugin):
    name = "InterPodAffinity"
    has_filter = True
    has_score = True
    normalize = True
    default_weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        def domains(term):  # type: ignore[no-untyped-def]
            return cache.domains_with(cache.matching_pods(term.namespaces, term.selector), term.topology_key)

        affinity = [(t.topology_key, domains(t)) for t in pod.affinity]
        self_ok = bool(pod.affinity) and all(not c for _, c in affinity) and all(
            t.matches(pod.namespace, pod.labels) for t in pod.affinity
        )
        preferred = [(t.topology_key, t.weight, domains(t)) for t in pod.preferred_affinity]
        preferred += [(t.topology_key, -t.weight, domains(t)) for t in pod.preferred_anti_affinity]
        prep = _Prepared(
            existing_anti=cache.existing_anti_affinity(pod),
            anti=[(t.topology_key, domains(t)) for t in pod.anti_affinity],
            affinity=affinity,
            affinity_self_ok=self_ok,
            preferred=preferred,
        )
        state[self.name] = prep
        return bool(prep.existing_anti or any(c for _, c in prep.anti) or prep.affinity)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._count(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._count(state, pod, other, node, -1)

    def _count(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        prep: _Prepared | None = state.get(self.name)
        if prep is None:
            return
        for terms, counted in ((pod.anti_affinity, prep.anti), (pod.affinity, prep.affinity)):
            for term, (key, counts) in zip(terms, counted, strict=True):
                if key in node.labels and term.matches(other.namespace, other.labels):
                    counts[node.labels[key]] += delta
        for term in other.anti_affinity:
            entry = prep.existing_anti.get(term.identity)
            if entry is not None and entry[0] in node.labels:
                entry[1][node.labels[entry[0]]] += delta

    def pre_score(
        self, state: CycleState, pod: PodInfo, cache: SchedulerCache, nodes: Sequence[NodeInfo]
    ) -> bool:
        return any(counts for _, _, counts in state[self.name].preferred)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        prep: _Prepared = state[self.name]
        labels = node.labels
        for key, holders in prep.existing_anti.values():
            if key in labels and holders.get(labels[key]):
                return _EXISTING
        for key, counts in prep.anti:
            if key in labels and counts.get(labels[key]):
                return _ANTI
        if prep.affinity:
            for key, counts in prep.affinity:
                if key not in labels:
                    return _AFFINITY
                if not counts.get(labels[key]) and not prep.affinity_self_ok:
                    return _AFFINITY
        return NO_REASONS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        prep: _Prepared = state[self.name]
        total = 0.0
        for key, weight, counts in prep.preferred:
            if key in node.labels:
                total += weight * counts.get(node.labels[key], 0)
        return total
