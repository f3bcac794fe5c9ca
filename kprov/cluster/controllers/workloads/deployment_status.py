"""A Deployment's status from its ReplicaSets, computed purely (the controller only writes it).

Design: :func:`deployment_status` takes the Deployment, its newest ReplicaSet and the older
ones and the time, and returns the status upstream's deployment controller would write:
the replica counts (zero counts left out, as Go's omitempty does), ``Available`` by the
rollout's maxUnavailable (every replica for Recreate), and ``Progressing`` naming the new
ReplicaSet, its ``lastUpdateTime`` kept while the reason stays the same.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kprov.cluster.api.objects import set_condition
from kprov.cluster.controllers.workloads.rollout import resolve_surge_unavailable

__all__ = ["deployment_status", "stat"]

Obj = Mapping[str, Any]
_COUNTS = ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas")


def stat(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


def _available_condition(available: int, replicas: int, spec: Obj, stamp: str) -> dict[str, Any]:
    _, max_unavailable = resolve_surge_unavailable(spec.get("strategy") or {}, replicas)
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        max_unavailable = replicas
    if available >= replicas - max_unavailable:
        reason, message, value = "MinimumReplicasAvailable", "Deployment has minimum availability.", "True"
    else:
        reason, message = "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
        value = "False"
    condition = {"type": "Available", "status": value, "reason": reason, "message": message}
    return {**condition, "lastUpdateTime": stamp}


def deployment_status(d: Obj, new: Obj | None, old: Sequence[Obj], stamp: str) -> dict[str, Any]:
    """The status to write (a new dict; ``d`` is not changed)."""
    replicas = int(d["spec"].get("replicas", 1))
    all_sets = [rs for rs in [new, *old] if rs is not None]
    total = sum(stat(rs, "replicas") for rs in all_sets)
    available = sum(stat(rs, "availableReplicas") for rs in all_sets)
    updated = stat(new, "replicas") if new is not None else 0
    status = copy.deepcopy(dict(d.get("status") or {}))
    status.update(
        {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": sum(stat(rs, "readyReplicas") for rs in all_sets),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
        }
    )
    for field in _COUNTS:
        if not status[field]:
            status.pop(field)
    set_condition(status, _available_condition(available, replicas, d["spec"], stamp))
    if new is None:
        return status
    complete = (
        updated == replicas
        and total == replicas
        and available >= replicas
        and stat(new, "availableReplicas") >= replicas
    )
    name = new["metadata"]["name"]
    reason = "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated"
    message = f'ReplicaSet "{name}" ' + ("has successfully progressed." if complete else "is progressing.")
    cond: dict[str, Any] = {"type": "Progressing", "status": "True", "reason": reason, "message": message}
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), None)
    if previous is None or previous.get("reason") != reason:
        cond["lastUpdateTime"] = stamp
    set_condition(status, cond)
    return status
