"""The RuntimeClass admission plugin: a pod's ``runtimeClassName`` brings the class's pod
overhead and scheduling constraints into the pod, as kube-apiserver's plugin does on create.

Design: on a pod create (dry runs included) the named node.k8s.io/v1 RuntimeClass is read
from the watch cache (etcd decides a miss, so a class created a moment ago is found). A
missing class is refused with 403 ``pod rejected: RuntimeClass "x" not found``. The class's
``overhead.podFixed`` becomes ``spec.overhead`` (a pod that set a different overhead itself is
refused; so is a pod with an overhead and no class that defines one). The class's
``scheduling.nodeSelector`` is merged into the pod's (a key the pod sets to another value is a
403 conflict), its tolerations are added to the pod's unless one already tolerates as much.
The scheduler and the quota then count the overhead (:mod:`kprov.cluster.scheduler.podinfo`,
:mod:`kprov.cluster.api.kinds.quota`); the kubelet runs the pod's sandbox with the class's handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError, refused

__all__ = ["admit_pod", "merge_tolerations", "same_resources"]

Obj = Mapping[str, Any]


def _forbidden(pod: Obj, reason: str) -> StatusError:
    meta = pod.get("metadata") or {}
    # upstream's admission names a pod by its generateName before the name is generated
    name = str(meta.get("generateName") or meta.get("name") or "Unknown")
    return refused("", "pods", name, reason)


def _quantities(resources: Obj | None) -> dict[str, Decimal] | None:
    if resources is None:
        return None
    out = {}
    for name, value in resources.items():
        try:
            out[str(name)] = parse_quantity(value)
        except ValueError:
            return None
    return out


def same_resources(a: Obj | None, b: Obj | None) -> bool:
    """Semantic equality of two resource lists ("1000m" equals "1"); an empty list is no list."""
    left, right = _quantities(a or None), _quantities(b or None)
    if left is None or right is None:
        return (a or None) == (b or None)
    return left == right


def _tolerates(wider: Obj, narrower: Obj) -> bool:
    """Whether toleration ``wider`` tolerates everything ``narrower`` does."""
    if wider.get("effect") and wider.get("effect") != narrower.get("effect"):
        return False
    every_key = (wider.get("operator") or "Equal") == "Exists"
    if not (every_key and not wider.get("key")):
        if wider.get("key") != narrower.get("key"):
            return False
        narrower_any = (narrower.get("operator") or "Equal") == "Exists"
        if not every_key and (narrower_any or wider.get("value", "") != narrower.get("value", "")):
            return False
    if wider.get("effect") == "NoExecute" or narrower.get("effect") == "NoExecute":
        mine, theirs = wider.get("tolerationSeconds"), narrower.get("tolerationSeconds")
        if mine is not None and (theirs is None or int(mine) < int(theirs)):
            return False
    return True


def merge_tolerations(first: list[Obj], second: list[Obj]) -> list[dict[str, Any]]:
    """Both lists' tolerations in order, without those another one already covers."""
    merged: list[dict[str, Any]] = []
    for candidate in [*first, *second]:
        if any(_tolerates(kept, candidate) for kept in merged):
            continue
        merged = [kept for kept in merged if not _tolerates(candidate, kept)]
        merged.append(dict(candidate))
    return merged


async def _runtime_class(ctx: ApiContext, name: str) -> dict[str, Any] | None:
    info = ctx.registry.get("node.k8s.io", "v1", "runtimeclasses")
    if info is None:
        return None
    key = ctx.key(info, "", name)
    found = await ctx.read_through(key)
    return found


async def admit_pod(ctx: ApiContext, pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    class_name = spec.get("runtimeClassName")
    runtime_class = await _runtime_class(ctx, class_name) if class_name else None
    if class_name and runtime_class is None:
        raise _forbidden(pod, f'pod rejected: RuntimeClass "{class_name}" not found')
    fixed = ((runtime_class or {}).get("overhead") or {}).get("podFixed")
    if fixed is not None:
        if spec.get("overhead") and not same_resources(spec["overhead"], fixed):
            raise _forbidden(
                pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
            )
        spec["overhead"] = dict(fixed)
    elif spec.get("overhead"):
        raise _forbidden(
            pod, "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
        )
    scheduling = (runtime_class or {}).get("scheduling") or {}
    selector = scheduling.get("nodeSelector") or {}
    if selector:
        merged = dict(spec.get("nodeSelector") or {})
        for key, value in selector.items():
            if key in merged and merged[key] != value:
                raise _forbidden(
                    pod,
                    f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                    f"pod.spec.nodeSelector[{key}] = {merged[key]}",
                )
            merged[key] = value
        spec["nodeSelector"] = merged
    if scheduling.get("tolerations"):
        spec["tolerations"] = merge_tolerations(spec.get("tolerations") or [], scheduling["tolerations"])
