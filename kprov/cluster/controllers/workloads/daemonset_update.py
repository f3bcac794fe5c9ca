"""A DaemonSet's RollingUpdate, planned from the pods per node (pure): which old pods go now
and on which nodes a new pod starts beside the old one.

As upstream's daemon controller; "available" is ready for the set's ``minReadySeconds``
(:func:`is_daemon_pod_available`):

- ``maxSurge`` 0 (the default): delete-first. Old pods are deleted, broken ones first, while
  fewer than ``maxUnavailable`` nodes lack an available pod (``maxUnavailable`` 0 counts as
  1, so a rollout always moves).
- ``maxSurge`` > 0: create-first, so a node keeps a serving pod throughout. A node whose old
  pod is not available gets its new pod at once; other nodes get one while fewer than
  ``maxSurge`` new pods are not available yet; once a node's new pod is available its old pod
  is deleted. A node may then hold two pods, one of each revision: the manage loop keeps the
  oldest of each (:func:`extra_pods`) and deletes the rest.

Percentages are of the nodes that should run the pod, rounded up, as upstream's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from kprov.cluster.controllers.base import Obj
from kprov.cluster.controllers.workloads.daemonset_history import HASH_LABEL
from kprov.cluster.controllers.workloads.pods import is_available
from kprov.cluster.controllers.workloads.rollout import scaled_value

__all__ = ["UpdatePlan", "extra_pods", "is_daemon_pod_available", "max_surge", "oldest_first",
           "plan_rolling_update"]

Available = Callable[[Obj], bool]


@dataclass
class UpdatePlan:
    victims: list[Obj] = field(default_factory=list)  # old pods to delete now
    surge_nodes: list[str] = field(default_factory=list)  # nodes to start a new pod on beside the old


def _rolling(ds: Obj) -> Obj | None:
    strategy = ds["spec"].get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def max_surge(ds: Obj, desired: int) -> int:
    """The set's maxSurge as a node count (0: no RollingUpdate, or delete-first)."""
    rolling = _rolling(ds)
    return 0 if rolling is None else scaled_value(rolling.get("maxSurge"), desired, True, 0)


def _is_new(pod: Obj, hash_: str) -> bool:
    return (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == hash_


def oldest_first(pods: list[Obj]) -> list[Obj]:
    """Scheduled pods first, then by creation time and name (upstream's
    podByCreationTimestampAndPhase): the first is the pod the set's status counts."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"),
                                       p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))


def is_daemon_pod_available(ds: Obj, now: dt.datetime) -> Available:
    """Whether a pod of ``ds`` is available at ``now``: ready for ``spec.minReadySeconds``."""
    min_ready = int(ds["spec"].get("minReadySeconds") or 0)
    return lambda pod: is_available(pod, min_ready, now)


def extra_pods(pods: list[Obj], hash_: str, surging: bool) -> list[Obj]:
    """The pods on a node that should run the set beyond what it keeps: one pod, or while
    surging one of each revision (the oldest of each)."""
    if not surging:
        return oldest_first(pods)[1:]
    new = oldest_first([p for p in pods if _is_new(p, hash_)])
    old = oldest_first([p for p in pods if not _is_new(p, hash_)])
    return new[1:] + old[1:]


def plan_rolling_update(ds: Obj, by_node: dict[str, list[Obj]], wanted: set[str], hash_: str,
                        now: dt.datetime | None = None) -> UpdatePlan:
    rolling = _rolling(ds)
    if rolling is None:
        return UpdatePlan()
    available = is_daemon_pod_available(ds, now or dt.datetime.now(dt.UTC))
    surge = max_surge(ds, len(wanted))
    if surge > 0:
        return _create_first(by_node, wanted, hash_, surge, available)
    unavailable_allowed = scaled_value(rolling.get("maxUnavailable"), len(wanted), True, 1) or 1
    return UpdatePlan(victims=_delete_first(by_node, wanted, hash_, unavailable_allowed, available))


def _delete_first(by_node: dict[str, list[Obj]], wanted: set[str], hash_: str, allowed: int,
                  available: Available) -> list[Obj]:
    current = [oldest_first(by_node[n])[0] for n in sorted(wanted) if by_node.get(n)]
    unavailable = len(wanted) - sum(1 for p in current if available(p))
    stale = [p for p in current if not _is_new(p, hash_)]
    stale.sort(key=available)  # replace broken pods first
    victims: list[Obj] = []
    for pod in stale:
        if unavailable >= allowed and available(pod):
            break
        victims.append(pod)
        if available(pod):
            unavailable += 1
    return victims


def _create_first(by_node: dict[str, list[Obj]], wanted: set[str], hash_: str, surge: int,
                  available: Available) -> UpdatePlan:
    plan = UpdatePlan()
    candidates: list[str] = []
    surging = 0  # nodes whose new pod is not available yet (or that the manage loop tidies first)
    for node in sorted(wanted):
        pods = by_node.get(node) or []
        new = oldest_first([p for p in pods if _is_new(p, hash_)])
        old = oldest_first([p for p in pods if not _is_new(p, hash_)])
        if len(new) > 1 or len(old) > 1:
            surging += 1
        elif not old:
            continue  # updated, or empty (the manage loop creates its pod)
        elif not new:
            if not available(old[0]):
                plan.surge_nodes.append(node)  # nothing serving to protect here
            else:
                candidates.append(node)
        elif available(new[0]):
            plan.victims.append(old[0])
        else:
            surging += 1
    plan.surge_nodes += candidates[: max(0, surge - surging)]
    return plan
