"""NodeName: a pod that names its node (spec.nodeName) fits only that node."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NodeName"]

_REASON = ("node(s) didn't match the requested node name",)


class NodeName(Plugin):
    name = "NodeName"
    has_filter = True
    unresolvable = True

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return bool((pod.pod.get("spec") or {}).get("nodeName"))

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        wanted = (pod.pod.get("spec") or {}).get("nodeName")
        return _REASON if wanted and wanted != node.name else NO_REASONS
