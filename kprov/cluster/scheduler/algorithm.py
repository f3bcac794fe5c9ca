"""One scheduling cycle, pure: pre-filter, filter nodes, score the feasible ones, pick one.

Nodes are visited round-robin from where the previous cycle stopped, and the search stops
once ``nodes_to_find`` feasible nodes are found (kube-scheduler's percentageOfNodesToScore:
adaptive by default, 50% minus 1% per 125 nodes, at least 5% and at least 100 nodes).
Filters and scores run over batches of nodes (see the framework), which visits and counts
exactly what a node-by-node loop would.
When no node fits, :func:`failure_message` renders the reasons the way kube-scheduler
does: ``0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint
{k: v}. preemption: 0/5 nodes are available: ...``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["ScheduleResult", "failure_message", "nodes_to_find", "schedule"]

_MIN_FEASIBLE = 100
_MIN_CHUNK = 32  # nodes filtered per batch when only a few more feasible ones are needed


def nodes_to_find(total: int, percentage: int = 0) -> int:
    if total <= _MIN_FEASIBLE:
        return total
    pct = percentage or max(5, 50 - total // 125)
    return min(total, max(_MIN_FEASIBLE, total * pct // 100))


@dataclass
class ScheduleResult:
    node: str | None
    total_nodes: int
    reasons: Counter[str] = field(default_factory=Counter)
    unresolvable_nodes: int = 0
    next_start: int = 0


def _normalize(scores: list[float], reverse: bool) -> list[float]:
    top = max(scores) if scores else 0.0
    bottom = min(scores) if scores else 0.0
    if top == bottom:
        return [100.0] * len(scores)  # no preference between the nodes
    if bottom >= 0:
        return [100 - s * 100 / top if reverse else s * 100 / top for s in scores]
    span = top - bottom
    return [(top - s) * 100 / span if reverse else (s - bottom) * 100 / span for s in scores]


def _find_feasible(
    pod: PodInfo,
    cache: SchedulerCache,
    filters: list[Plugin],
    state: CycleState,
    start: int,
    wanted: int,
    result: ScheduleResult,
) -> tuple[list[NodeInfo], int]:
    """The first ``wanted`` feasible nodes from ``start`` on, and how many nodes were visited.

    Nodes go through the filters a chunk at a time (each plugin over the chunk's survivors),
    which is equivalent to checking node by node: a node's reasons come from the first
    filter that rejects it, and rejections past the node that completed the search are not
    counted, as they would not have been visited.
    """
    order = cache.node_infos
    total = len(order)
    feasible: list[NodeInfo] = []
    visited = 0
    while visited < total and len(feasible) < wanted:
        need = wanted - len(feasible)
        size = min(total - visited, max(need, _MIN_CHUNK))
        begin = (start + visited) % total
        chunk = order[begin:begin + size]
        if len(chunk) < size:
            chunk += order[:size - len(chunk)]
        alive = chunk
        alive_at: list[int] | None = None  # chunk positions of ``alive``; None = all of them
        rejected: list[tuple[int, Plugin, Sequence[str]]] = []
        for plugin in filters:
            verdicts = plugin.filter_batch(state, pod, alive)
            if verdicts is None:
                continue
            kept: list[NodeInfo] = []
            kept_at: list[int] = []
            positions = alive_at if alive_at is not None else range(len(alive))
            for at, node, reasons in zip(positions, alive, verdicts, strict=True):
                if reasons:
                    rejected.append((at, plugin, reasons))
                else:
                    kept.append(node)
                    kept_at.append(at)
            alive, alive_at = kept, kept_at
            if not alive:
                break
        used = len(chunk)
        if len(alive) > need:
            used = (alive_at[need - 1] if alive_at is not None else need - 1) + 1
            alive = alive[:need]
        for at, plugin, reasons in rejected:
            if at < used:
                result.reasons.update(reasons)
                if plugin.unresolvable:
                    result.unresolvable_nodes += 1
        feasible.extend(alive)
        visited += used
    return feasible, visited


def schedule(
    pod: PodInfo,
    cache: SchedulerCache,
    plugins: list[Plugin],
    weights: dict[str, int] | None = None,
    start: int = 0,
    percentage: int = 0,
    rng: random.Random | None = None,
) -> ScheduleResult:
    state = CycleState()
    total = len(cache.node_order)
    result = ScheduleResult(node=None, total_nodes=total, next_start=start)
    if total == 0:
        return result
    filters = [p for p in plugins if p.pre_filter(state, pod, cache) and p.has_filter]
    feasible, visited = _find_feasible(
        pod, cache, filters, state, start, nodes_to_find(total, percentage), result
    )
    result.next_start = (start + visited) % total
    if not feasible:
        return result
    if len(feasible) == 1:
        result.node = feasible[0].name
        return result
    totals: list[float] | None = None
    for plugin in plugins:
        if not plugin.has_score:
            continue
        weight = (weights or {}).get(plugin.name, plugin.default_weight)
        if weight == 0:
            continue
        if not plugin.pre_score(state, pod, cache, feasible):
            continue
        raw = plugin.score_batch(state, pod, feasible)
        scores = _normalize(raw, plugin.reverse) if plugin.normalize else raw
        if weight != 1:
            scores = [s * weight for s in scores]
        totals = scores if totals is None else [t + s for t, s in zip(totals, scores, strict=True)]
    if totals is None:
        totals = [0.0] * len(feasible)
    best = max(totals)
    choices = [n for n, t in zip(feasible, totals, strict=True) if t >= best - 1e-9]
    result.node = (rng or random).choice(choices).name
    return result


def failure_message(result: ScheduleResult) -> str:
    total = result.total_nodes
    if total == 0:
        return "no nodes available to schedule pods"
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(result.reasons.items()))
    resolvable = total - result.unresolvable_nodes
    preemption = []
    if resolvable:
        preemption.append(f"{resolvable} No preemption victims found for incoming pod")
    if result.unresolvable_nodes:
        preemption.append(f"{result.unresolvable_nodes} Preemption is not helpful for scheduling")
    return (
        f"0/{total} nodes are available: {parts}. "
        f"preemption: 0/{total} nodes are available: {', '.join(preemption)}."
    )
