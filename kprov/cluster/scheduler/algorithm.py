"""One scheduling cycle, pure: pre-filter, filter nodes, score the feasible ones, pick one.

Nodes are visited round-robin from where the previous cycle stopped, and the search stops
once ``nodes_to_find`` feasible nodes are found (kube-scheduler's percentageOfNodesToScore:
adaptive by default, 50% minus 1% per 125 nodes, at least 5% and at least 100 nodes).
When no node fits, :func:`failure_message` renders the reasons the way kube-scheduler
does: ``0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint
{k: v}. preemption: 0/5 nodes are available: ...``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["ScheduleResult", "failure_message", "nodes_to_find", "schedule"]

_MIN_FEASIBLE = 100


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
    order = cache.node_order
    total = len(order)
    result = ScheduleResult(node=None, total_nodes=total, next_start=start)
    if total == 0:
        return result
    filters = [p for p in plugins if p.pre_filter(state, pod, cache) and p.has_filter]
    wanted = nodes_to_find(total, percentage)
    feasible: list[NodeInfo] = []
    visited = 0
    for visited in range(1, total + 1):  # noqa: B007 - visited is used after the loop
        node = cache.nodes[order[(start + visited - 1) % total]]
        for plugin in filters:
            reasons = plugin.filter(state, pod, node)
            if reasons:
                result.reasons.update(reasons)
                if plugin.unresolvable:
                    result.unresolvable_nodes += 1
                break
        else:
            feasible.append(node)
            if len(feasible) >= wanted:
                break
    result.next_start = (start + visited) % total
    if not feasible:
        return result
    if len(feasible) == 1:
        result.node = feasible[0].name
        return result
    totals = [0.0] * len(feasible)
    for plugin in plugins:
        if not plugin.has_score:
            continue
        weight = (weights or {}).get(plugin.name, plugin.default_weight)
        if weight == 0:
            continue
        if not plugin.pre_score(state, pod, cache, feasible):
            continue
        raw = [plugin.score(state, pod, n) for n in feasible]
        scores = _normalize(raw, plugin.reverse) if plugin.normalize else raw
        for i, s in enumerate(scores):
            totals[i] += s * weight
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
