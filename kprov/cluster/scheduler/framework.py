"""The scheduling framework: plugins with filter and score extension points.

A plugin subclasses :class:`Plugin` and overrides what it takes part in:

- ``pre_filter(state, pod, cache)``: compute per-cycle data once (e.g. affinity domains) and
  return False when the filter cannot reject any node for this pod (it is then skipped,
  like a PreFilter "Skip" in kube-scheduler); ``pre_score`` likewise for scoring;
- ``filter(state, pod, node)``: return the reasons the node cannot take the pod (empty =
  fits); reasons are the user-facing strings counted in the FailedScheduling message;
- ``score(state, pod, node)``: a raw score for a feasible node; scores are normalized to
  0..100 when ``normalize`` is set (``reverse`` makes lower raw scores better), then
  multiplied by the plugin's weight and summed.

The cycle calls the batch forms, ``filter_batch`` and ``score_batch``, over many nodes at
once; by default they loop over ``filter``/``score``. A plugin on the hot path (resources
fit, balanced allocation) overrides them with one tight loop: at 1000 nodes a cycle checks
and scores hundreds of nodes, and a Python call per node per plugin is most of its cost.

``add_pod(state, pod, other, node)`` / ``remove_pod(...)`` are kube-scheduler's PreFilter
extensions: preemption calls them as it takes would-be victims off a node and puts them back,
so a plugin whose pre_filter counted pods cluster-wide (topology spread, pod affinity) updates
its cycle data instead of filtering against pods that would be gone. Every ``remove_pod`` is
matched by an ``add_pod`` of the same pod, so the data ends as it began.

``unresolvable`` marks filters that evicting pods could not fix (taints, selectors): this
is what the "preemption: ..." part of the message reports. :class:`CycleState` is a dict
the plugins share during one pod's cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NO_REASONS", "CycleState", "Plugin"]

NO_REASONS: tuple[str, ...] = ()


class CycleState(dict[str, Any]):
    """Scratch data for one scheduling cycle, keyed by plugin name."""


class Plugin:
    name: ClassVar[str] = ""
    has_filter: ClassVar[bool] = False
    has_score: ClassVar[bool] = False
    unresolvable: ClassVar[bool] = False
    normalize: ClassVar[bool] = False
    reverse: ClassVar[bool] = False
    default_weight: ClassVar[int] = 1

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        """Prepare per-cycle data; return False to skip this plugin's filter for the pod."""
        return True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        return NO_REASONS

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """``other`` is (back) on ``node``: update what pre_filter counted for ``pod``."""

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """``other`` is off ``node`` (a would-be victim): update what pre_filter counted for ``pod``."""

    def filter_batch(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> list[Sequence[str]] | None:
        """``filter`` for each node, in order; None when every node fits (the common case)."""
        results = [self.filter(state, pod, n) for n in nodes]
        return results if any(results) else None

    def pre_score(
        self, state: CycleState, pod: PodInfo, cache: SchedulerCache, nodes: Sequence[NodeInfo]
    ) -> bool:
        """Prepare scoring data over the feasible nodes; return False to skip scoring."""
        return True

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> float:
        return 0.0

    def score_batch(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[float]:
        """``score`` for each node, in order."""
        return [self.score(state, pod, n) for n in nodes]
