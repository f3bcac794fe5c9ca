"""PriorityClasses: the two system classes every cluster has, and the Priority admission
that turns a pod's ``priorityClassName`` into ``spec.priority`` (as kube-apiserver's plugin).

Design: the built-in classes are created at start-up by :mod:`..bootstrap` (idempotently).
On a pod create the class named by the pod, or else the globalDefault class if one exists,
gives ``spec.priority`` and ``spec.preemptionPolicy``; an unknown class, or a priority the
pod set itself that differs, is refused with upstream's 403 wording.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError, refused

__all__ = ["SYSTEM_CLASSES", "admit_pod"]

SYSTEM_CLASSES: tuple[dict[str, Any], ...] = (
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-node-critical"},
        "value": 2000001000,
        "description": "Used for system critical pods that must not be moved from their current node.",
        "preemptionPolicy": "PreemptLowerPriority",
    },
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-cluster-critical"},
        "value": 2000000000,
        "description": "Used for system critical pods that must run in the cluster, "
        "but can be moved to another node if necessary.",
        "preemptionPolicy": "PreemptLowerPriority",
    },
)


def _forbidden(name: str, reason: str) -> StatusError:
    return refused("", "pods", name, reason)


async def admit_pod(ctx: ApiContext, pod: dict[str, Any]) -> None:
    info = ctx.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
    if info is None:
        return
    spec = pod.setdefault("spec", {})
    name = pod["metadata"]["name"]
    class_name = spec.get("priorityClassName")
    found: dict[str, Any] | None = None
    if class_name:
        found = ctx.cache.get(ctx.key(info, "", class_name))
        if found is None:
            stored = await ctx.store.get(ctx.key(info, "", class_name))
            found = stored.obj if stored is not None else None
        if found is None:
            raise _forbidden(name, f"no PriorityClass with name {class_name} was found")
    else:
        defaults = [c for c in ctx.cache.objects(ctx.prefix(info, "")) if c.get("globalDefault")]
        if defaults:
            found = min(defaults, key=lambda c: int(c.get("value") or 0))
            spec["priorityClassName"] = found["metadata"]["name"]
    if found is None:
        return
    value = int(found.get("value") or 0)
    given = spec.get("priority")
    if given not in (None, 0, value):
        raise _forbidden(
            name,
            f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
            f"controller computed {value} from the given PriorityClass name",
        )
    spec["priority"] = value
    spec["preemptionPolicy"] = found.get("preemptionPolicy") or "PreemptLowerPriority"
