"""Claiming pods for a controller, as upstream's PodControllerRefManager: an active pod with
no controller whose labels match the owner's selector is adopted (given a controller
ownerReference, and the owner's finalizer if it tracks pods with one: Jobs), and an owned
pod whose labels no longer match is released (that reference and finalizer removed). An
owner being deleted neither adopts nor releases. Each write is a patch guarded by the pod's
resourceVersion: a pod that changed meanwhile is left for the next pass."""

from __future__ import annotations

import contextlib

from kprov.cluster.api.objects import controller_ref, new_controller_ref
from kprov.cluster.api.selectors import LabelSelector
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.resources import PODS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.base import Obj
from kprov.cluster.controllers.workloads.pods import is_active

__all__ = ["adopt_orphans", "release_unmatched"]


async def _patch(client: ApiClient, pod: Obj, refs: list[Obj], finalizers: list[str] | None) -> None:
    meta: Obj = {"ownerReferences": refs or None, "resourceVersion": pod["metadata"]["resourceVersion"]}
    if finalizers is not None:
        meta["finalizers"] = finalizers or None
    with contextlib.suppress(Conflict, NotFound):
        await client.patch(PODS, pod["metadata"]["name"], {"metadata": meta}, pod["metadata"]["namespace"])


async def adopt_orphans(client: ApiClient, owner: Obj, selector: LabelSelector, candidates: list[Obj],
                        finalizer: str | None = None) -> None:
    """Adopt the active, controller-less pods among ``candidates`` (the owner's namespace)
    that ``selector`` matches."""
    if owner["metadata"].get("deletionTimestamp") or selector.empty:
        return
    for pod in candidates:
        meta = pod["metadata"]
        if controller_ref(pod) is not None or not is_active(pod) or meta.get("deletionTimestamp"):
            continue
        same_namespace = meta.get("namespace") == owner["metadata"]["namespace"]
        if not same_namespace or not selector.matches(meta.get("labels")):
            continue
        finalizers = None
        if finalizer is not None and finalizer not in (meta.get("finalizers") or []):
            finalizers = [*(meta.get("finalizers") or []), finalizer]
        refs = [*(meta.get("ownerReferences") or []), new_controller_ref(owner)]
        await _patch(client, pod, refs, finalizers)


async def release_unmatched(client: ApiClient, owner: Obj, selector: LabelSelector, owned: list[Obj],
                            finalizer: str | None = None) -> list[Obj]:
    """Release the ``owned`` pods ``selector`` no longer matches; return the ones it does."""
    if owner["metadata"].get("deletionTimestamp"):
        return owned
    kept: list[Obj] = []
    uid = owner["metadata"]["uid"]
    for pod in owned:
        meta = pod["metadata"]
        if selector.matches(meta.get("labels")):
            kept.append(pod)
            continue
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
        finalizers = None
        if finalizer is not None and finalizer in (meta.get("finalizers") or []):
            finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
        await _patch(client, pod, refs, finalizers)
    return kept
