"""Nominated pods: where a preemptor will go once its victims are gone (upstream's PodNominator).

A pod that preempted carries ``status.nominatedNodeName`` until it is bound. While it waits
for its victims to end, the room they free is its: when another pod is scheduled, the
pending pods nominated to a node with at least that pod's priority are counted on that node
as if bound (upstream's addNominatedPods), so a replacement of a victim, or any pod of lower
priority, cannot take the room and force a second round of preemption. The pod being
scheduled never counts its own nomination.

Design: the scheduler's pod informer feeds :meth:`Nominator.observe` (and the scheduler
notes its own nominations at once, before the watch brings them). :meth:`counted_for` adds
the nominated pods to the cache for one synchronous scheduling cycle and takes them out
again, so the cache holds only bound and assumed pods between cycles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kprov.cluster.scheduler.cache import SchedulerCache
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["Nominator"]


def _priority(info: PodInfo) -> int:
    return int((info.pod.get("spec") or {}).get("priority") or 0)


class Nominator:
    def __init__(self) -> None:
        self._nominated: dict[str, tuple[str, PodInfo]] = {}  # pod key -> (node, pod)

    def __len__(self) -> int:
        return len(self._nominated)

    def observe(self, key: str, pod: dict[str, Any] | None) -> None:
        """The pod as the informer (or the scheduler's own status patch) has it; None: deleted."""
        spec = (pod or {}).get("spec") or {}
        node = ((pod or {}).get("status") or {}).get("nominatedNodeName")
        deleting = ((pod or {}).get("metadata") or {}).get("deletionTimestamp")
        if pod is None or spec.get("nodeName") or not node or deleting:
            self._nominated.pop(key, None)
            return
        try:
            self._nominated[key] = (node, PodInfo.of(pod))
        except ValueError:  # a pod the scheduler cannot read is not placed anywhere
            self._nominated.pop(key, None)

    @contextlib.contextmanager
    def counted_for(self, pod: PodInfo, cache: SchedulerCache) -> Iterator[None]:
        """Within the block, the pods nominated with a priority at least ``pod``'s are on their
        nominated nodes in ``cache``."""
        added: list[str] = []
        if self._nominated:
            floor = _priority(pod)
            for key, (node, info) in self._nominated.items():
                if key == pod.key or cache.is_assigned(key) or node not in cache.nodes:
                    continue
                if _priority(info) >= floor:
                    cache.add_pod(info, node)
                    added.append(key)
        try:
            yield
        finally:
            for key in added:
                cache.remove_pod(key, bump=False)
