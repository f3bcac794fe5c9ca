"""pvc-protection and pv-protection: let a claim or volume that is being deleted go only
when nothing needs it any more, as kube-controller-manager's two protection controllers do.

Design: admission puts ``kubernetes.io/pvc-protection`` on every claim and
``kubernetes.io/pv-protection`` on every volume. A claim being deleted keeps its finalizer
while a pod that is scheduled and not finished names it in ``spec.volumes``; the cache's
"unused" answer is confirmed by a live list of the namespace's pods before the finalizer goes
(a pod created a moment ago may not be cached yet). A volume being deleted keeps its
finalizer while its phase is Bound. Pod events re-queue the deleting claims they name.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["PVCProtectionController", "PVProtectionController", "claims_of", "pod_uses_claims"]

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def claims_of(pod: Obj) -> list[str]:
    """The claim names a pod's volumes refer to (ephemeral volumes' claims included)."""
    names = []
    pod_name = (pod.get("metadata") or {}).get("name", "")
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            names.append(str(claim))
        elif volume.get("ephemeral") is not None:
            names.append(f"{pod_name}-{volume.get('name', '')}")
    return names


def pod_uses_claims(pod: Obj) -> bool:
    """Whether a pod still holds its claims: scheduled and not finished."""
    phase = (pod.get("status") or {}).get("phase")
    return bool((pod.get("spec") or {}).get("nodeName")) and phase not in ("Succeeded", "Failed")


def _deleting_with(obj: Obj, finalizer: str) -> bool:
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or [])


def _without(obj: Obj, finalizer: str) -> dict[str, Any]:
    meta = dict(obj["metadata"])
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
    return {**obj, "metadata": meta}


class PVCProtectionController(Controller):
    name = "pvc-protection"
    identity = "pvc-protection-controller"

    def setup(self) -> None:
        self.claims = self.ctx.informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.claims.add_handler(EventHandler(self._claim, lambda _o, n: self._claim(n), None))
        self.pods.add_handler(EventHandler(None, lambda _o, n: self._pod(n), self._pod))

    def _claim(self, claim: Obj) -> None:
        if _deleting_with(claim, PVC_PROTECTION):
            self.enqueue(claim)

    def _pod(self, pod: Obj) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        for name in claims_of(pod):
            self.queue.add(f"{namespace}/{name}")

    def _used(self, namespace: str, name: str, pods: list[Obj]) -> bool:
        return any(
            pod_uses_claims(p) and name in claims_of(p)
            for p in pods
            if (p.get("metadata") or {}).get("namespace", namespace) == namespace
        )

    async def reconcile(self, key: str) -> float | None:
        claim = self.claims.store.get(key)
        if claim is None or not _deleting_with(claim, PVC_PROTECTION):
            return None
        namespace, _, name = key.partition("/")
        if self._used(namespace, name, list(self.pods.store.by_index("namespace", namespace))):
            return None
        live = await self.client.list(PODS, namespace)
        if self._used(namespace, name, list(live.get("items") or [])):
            return None
        try:
            await self.client.update(
                PERSISTENT_VOLUME_CLAIMS,
                {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **_without(claim, PVC_PROTECTION)},
            )
        except NotFound:
            return None
        except Conflict:
            return 0.5
        return None


class PVProtectionController(Controller):
    name = "pv-protection"
    identity = "pv-protection-controller"

    def setup(self) -> None:
        self.volumes = self.ctx.informers.get(PERSISTENT_VOLUMES)
        self.volumes.add_handler(EventHandler(self._volume, lambda _o, n: self._volume(n), None))

    def _volume(self, volume: Obj) -> None:
        if _deleting_with(volume, PV_PROTECTION):
            self.enqueue(volume)

    async def reconcile(self, key: str) -> float | None:
        volume = self.volumes.store.get(key)
        if volume is None or not _deleting_with(volume, PV_PROTECTION):
            return None
        if (volume.get("status") or {}).get("phase") == "Bound":
            return None
        try:
            await self.client.update(
                PERSISTENT_VOLUMES,
                {"apiVersion": "v1", "kind": "PersistentVolume", **_without(volume, PV_PROTECTION)},
            )
        except NotFound:
            return None
        except Conflict:
            return 0.5
        return None
