"""DefaultPreemption (PostFilter): when no node fits a pod, find a node where evicting pods of
lower priority would let it fit, as kube-scheduler's DefaultPreemption does.

Design: only a pod whose ``preemptionPolicy`` is not Never preempts. For each node holding
pods of lower priority, all of them are taken off the node's copy in the cache, the filters
are asked whether the pod fits; if it does, victims are reprieved from the highest priority
down while the pod still fits (so the fewest and least important go). Victims are reprieved
in upstream's order of importance: higher priority first, then the older pod (upstream
compares start times; the cache holds pods as first seen, so creation times stand in). Among
candidate nodes the one whose most important victim has the lowest priority wins, then the
one with fewest victims, then the first. A pod already nominated to a node where a
lower-priority pod is terminating is not eligible to preempt again (upstream's
PodEligibleToPreemptOthers): its victims are on their way out, and a second round would
evict more than it needs. The node's pods are always put back: the cache is
unchanged afterwards. Victims are deleted by the scheduler, which sets the preemptor's
``status.nominatedNodeName``; the preemptor is scheduled once the victims are gone.
Filters whose pre_filter counted pods cluster-wide (topology spread, pod affinity) are told
of each pod taken off or put back (``remove_pod``/``add_pod``, upstream's PreFilter
extensions), so a spread constraint sees its would-be victims gone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import CycleState, Plugin
from kprov.cluster.scheduler.podinfo import Obj, PodInfo

__all__ = ["Candidate", "DefaultPreemption", "eligible_to_preempt", "priority_of"]


def priority_of(pod: PodInfo) -> int:
    return int((pod.pod.get("spec") or {}).get("priority") or 0)


def _importance(pod: PodInfo) -> tuple[int, str]:
    """Sorts the most important first: higher priority, then created earlier."""
    created = str((pod.pod.get("metadata") or {}).get("creationTimestamp") or "~")  # none: last
    return -priority_of(pod), created


def eligible_to_preempt(
    pod: PodInfo, nominated_node: str, cache: SchedulerCache, current: Callable[[str], Obj | None]
) -> bool:
    """Whether ``pod`` (nominated to ``nominated_node``, or "") may preempt: not while a pod of
    lower priority on its nominated node is terminating. ``current`` gives a pod's latest
    object by key (the cache holds pods as first seen, without their deletionTimestamp)."""
    node = cache.nodes.get(nominated_node) if nominated_node else None
    if node is None:
        return True
    priority = priority_of(pod)
    for key, other in node.pods.items():
        latest = current(key) or {}
        if priority_of(other) < priority and (latest.get("metadata") or {}).get("deletionTimestamp"):
            return False
    return True


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: tuple[PodInfo, ...]


class DefaultPreemption(Plugin):
    """Not a filter or score plugin: the scheduler calls :meth:`post_filter` after a failed cycle."""

    name = "DefaultPreemption"

    @staticmethod
    def _fits(filters: Sequence[Plugin], state: CycleState, pod: PodInfo, node: NodeInfo) -> bool:
        return not any(f.filter(state, pod, node) for f in filters)

    @staticmethod
    def _take_off(
        filters: Sequence[Plugin], state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> None:
        node.remove_pod(victim.key)
        for f in filters:
            f.remove_pod(state, pod, victim, node)

    @staticmethod
    def _put_back(
        filters: Sequence[Plugin], state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> None:
        node.add_pod(victim)
        for f in filters:
            f.add_pod(state, pod, victim, node)

    def post_filter(self, pod: PodInfo, cache: SchedulerCache, plugins: Sequence[Plugin]) -> Candidate | None:
        if (pod.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return None
        priority = priority_of(pod)
        state = CycleState()
        filters = [p for p in plugins if p.has_filter and p.pre_filter(state, pod, cache)]
        best: tuple[tuple[int, int], Candidate] | None = None
        for node in cache.node_infos:
            lower = sorted((p for p in node.pods.values() if priority_of(p) < priority), key=priority_of)
            if not lower:
                continue
            for victim in lower:
                self._take_off(filters, state, pod, victim, node)
            victims: list[PodInfo] = []
            try:
                if not self._fits(filters, state, pod, node):
                    continue
                for candidate in sorted(lower, key=_importance):  # most important first: keep it if we can
                    self._put_back(filters, state, pod, candidate, node)
                    if not self._fits(filters, state, pod, node):
                        self._take_off(filters, state, pod, candidate, node)
                        victims.append(candidate)
            finally:
                for victim in lower:
                    if victim.key not in node.pods:
                        self._put_back(filters, state, pod, victim, node)
            rank = (max(priority_of(v) for v in victims) if victims else -(2**31), len(victims))
            if victims and (best is None or rank < best[0]):
                best = (rank, Candidate(node.name, tuple(victims)))
        return best[1] if best else None
