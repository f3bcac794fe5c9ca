"""VolumeBinding: a pod goes where its claims' volumes can be, as kube-scheduler's plugin.

Design: the scheduler keeps informers on claims, volumes and StorageClasses and hangs their
stores on the cache as a :class:`StorageView`. PreFilter looks up the pod's claims once: a
missing or deleting claim, or an unbound claim of an Immediate class (the binder has not
bound it yet), makes every node fail with upstream's message. Filter, per node: a bound
claim's volume must admit the node by its nodeAffinity ("volume node affinity conflict"); an
unbound WaitForFirstConsumer claim needs a free volume that fits and admits the node, or a
class with a real provisioner (which will make one there). After the node is chosen,
:func:`pre_bind` writes ``volume.kubernetes.io/selected-node`` on the unbound
WaitForFirstConsumer claims, so the binder or the provisioner acts for that node; the pod is
bound at once and its kubelet waits for the claim to be bound before mounting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.kinds.nodeselector import node_selector_matches
from kprov.cluster.api.kinds.volumematch import claim_class, find_volume
from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.resources import PERSISTENT_VOLUME_CLAIMS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["SELECTED_NODE", "StorageView", "VolumeBinding", "pod_claims", "pre_bind"]

SELECTED_NODE = "volume.kubernetes.io/selected-node"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
_CONFLICT = ("node(s) had volume node affinity conflict",)
_NO_VOLUME = ("node(s) didn't find available persistent volumes to bind",)


@dataclass
class StorageView:
    """The informer stores (``get(key)`` and iteration) the plugin reads."""

    claims: Any
    volumes: Any
    classes: Any


@dataclass
class _PodVolumes:
    error: tuple[str, ...] = ()
    bound: tuple[dict[str, Any], ...] = ()  # the volumes of bound claims
    waiting: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = ()  # (claim, class) to bind on the node


def pod_claims(pod: dict[str, Any]) -> list[str]:
    return [
        str(v["persistentVolumeClaim"].get("claimName", ""))
        for v in (pod.get("spec") or {}).get("volumes") or []
        if v.get("persistentVolumeClaim")
    ]


def _wffc(storage: StorageView, claim: dict[str, Any]) -> dict[str, Any] | None:
    name = claim_class(claim)
    found = storage.classes.get(name) if name else None
    return found if (found or {}).get("volumeBindingMode") == "WaitForFirstConsumer" else None


def _resolve(storage: StorageView, pod: PodInfo) -> _PodVolumes:
    bound: list[dict[str, Any]] = []
    waiting: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for name in pod_claims(pod.pod):
        claim = storage.claims.get(f"{pod.namespace}/{name}")
        if claim is None:
            return _PodVolumes(error=(f'persistentvolumeclaim "{name}" not found',))
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            return _PodVolumes(error=(f'persistentvolumeclaim "{name}" is being deleted',))
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = storage.volumes.get(volume_name)
            if volume is None:
                return _PodVolumes(error=(f'persistentvolume "{volume_name}" not found',))
            bound.append(volume)
            continue
        storage_class = _wffc(storage, claim)
        if storage_class is None:
            return _PodVolumes(error=("pod has unbound immediate PersistentVolumeClaims",))
        waiting.append((claim, storage_class))
    return _PodVolumes(bound=tuple(bound), waiting=tuple(waiting))


class VolumeBinding(Plugin):
    name = "VolumeBinding"
    has_filter = True
    unresolvable = True

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        storage = getattr(cache, "storage", None)
        if storage is None or not pod_claims(pod.pod):
            return False
        state[self.name] = (storage, _resolve(storage, pod))
        return True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        storage, found = state[self.name]
        if found.error:
            return found.error
        for volume in found.bound:
            required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
            if not node_selector_matches(required, node.labels, node.name):
                return _CONFLICT
        if found.waiting:
            volumes = list(storage.volumes)
            for claim, storage_class in found.waiting:
                if find_volume(volumes, claim, (node.labels, node.name)) is not None:
                    continue
                if (storage_class.get("provisioner") or NO_PROVISIONER) == NO_PROVISIONER:
                    return _NO_VOLUME
        return NO_REASONS


async def pre_bind(client: ApiClient, storage: StorageView | None, pod: dict[str, Any], node: str) -> None:
    """Tell the unbound WaitForFirstConsumer claims of ``pod`` which node it goes to."""
    if storage is None:
        return
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    for name in pod_claims(pod):
        claim = storage.claims.get(f"{namespace}/{name}")
        if claim is None or (claim.get("spec") or {}).get("volumeName") or _wffc(storage, claim) is None:
            continue
        if ((claim.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE) == node:
            continue
        patch = {"metadata": {"annotations": {SELECTED_NODE: node}}}
        with contextlib.suppress(ApiError):  # the kubelet then waits; a retry of the pod fixes it
            await client.patch(PERSISTENT_VOLUME_CLAIMS, name, patch, namespace)
