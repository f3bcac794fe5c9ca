"""Pod helpers the workload controllers share: building a pod from a template, telling
active pods from finished ones, ranking pods for deletion, and readiness/availability."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kprov.cluster.api.objects import get_condition, new_controller_ref, parse_time

__all__ = [
    "deletion_rank",
    "is_active",
    "is_available",
    "is_ready",
    "pod_from_template",
]

Obj = dict[str, Any]


def pod_from_template(
    owner: Obj,
    template: Obj,
    name: str | None = None,
    generate_name: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    meta_t = template.get("metadata") or {}
    meta: Obj = {
        "namespace": owner["metadata"]["namespace"],
        "labels": {**(meta_t.get("labels") or {}), **(extra_labels or {})},
        "ownerReferences": [new_controller_ref(owner)],
    }
    if meta_t.get("annotations"):
        meta["annotations"] = dict(meta_t["annotations"])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or f"{owner['metadata']['name']}-"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def is_active(pod: Obj) -> bool:
    """Not finished and not being deleted."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def is_ready(pod: Obj) -> bool:
    cond = get_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_available(pod: Obj, min_ready_seconds: int, now: dt.datetime | None = None) -> bool:
    cond = get_condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    moment = now or dt.datetime.now(dt.UTC)
    return since is not None and (moment - since).total_seconds() >= min_ready_seconds


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key: pods that are cheapest to lose come first (unassigned < pending < not
    ready < ready; then the most recently created)."""
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (
        1 if spec.get("nodeName") else 0,
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase or "Pending", 0),
        1 if is_ready(pod) else 0,
        tuple(-ord(c) for c in created),  # newer first
    )
