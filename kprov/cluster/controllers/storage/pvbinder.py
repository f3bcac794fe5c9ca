"""persistentvolume-binder: bind claims to volumes and follow both through their phases, as
kube-controller-manager's PV controller does (static binding and reclaim; dynamic
provisioning is left to the provisioner the claim's class names).

Design: two kinds of keys on one queue, ``claim:ns/name`` and ``volume:name``, each synced
level-triggered from the caches (every write is a compare-and-swap on the cached object; a
conflict is retried). Binding, as upstream: a claim without ``spec.volumeName`` takes the
volume pre-bound to it (``claimRef`` naming it), else the smallest Available volume of the
same class and volumeMode whose access modes include the claim's, whose capacity covers the
request, whose labels match the claim's selector and (once the scheduler chose a node) whose
nodeAffinity admits that node. The volume is written first (``claimRef``, phase Bound), then
the claim (``volumeName``, the bind-completed / bound-by-controller annotations, phase Bound
with the volume's capacity and access modes). A claim of a WaitForFirstConsumer class waits
for ``volume.kubernetes.io/selected-node``; one with no volume but a class gets the
``volume.kubernetes.io/storage-provisioner`` annotation naming the class's provisioner.
Phases: a volume whose claim is gone (even one being deleted) is Released and then kept
(Retain) or, for Delete,
handed to its provisioner (which deletes the backing and the object) or Failed when no
provisioner made it; a bound claim whose volume is gone or taken is Lost; a volume without
a claim is Available.
"""

from __future__ import annotations

import logging
from typing import Any

from kprov.cluster.api.kinds.volumematch import claim_class, find_volume, prebound_to
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import (
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    STORAGE_CLASSES,
)
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["SELECTED_NODE", "STORAGE_PROVISIONER", "PVBinderController"]

log = logging.getLogger(__name__)

SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
_BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
_RETRY_S = 0.5


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


class PVBinderController(Controller):
    name = "persistentvolume-binder"
    identity = "persistent-volume-binder"

    def setup(self) -> None:
        self.volumes = self.ctx.informers.get(PERSISTENT_VOLUMES)
        self.claims = self.ctx.informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.classes = self.ctx.informers.get(STORAGE_CLASSES)
        self.nodes = self.ctx.informers.get(NODES)
        self._told: dict[str, str] = {}  # claim key -> the reason of the last event about it
        self.volumes.add_handler(
            EventHandler(self._volume_event, lambda _o, n: self._volume_event(n), self._volume_gone)
        )
        self.claims.add_handler(
            EventHandler(self._claim_event, lambda _o, n: self._claim_event(n), self._claim_gone)
        )

    # -- events --------------------------------------------------------------------------
    async def _tell(self, claim: Obj, event_type: str, reason: str, message: str) -> None:
        """An event about a claim, once per reason in a row (claims are synced often)."""
        key = f"{_meta(claim).get('namespace', '')}/{_meta(claim).get('name', '')}"
        if self._told.get(key) == reason:
            return
        self._told[key] = reason
        await self.ctx.recorder.record(claim, event_type, reason, message)

    def _volume_event(self, volume: Obj) -> None:
        self.queue.add(f"volume:{_meta(volume).get('name', '')}")
        ref = (volume.get("spec") or {}).get("claimRef")
        if isinstance(ref, dict):
            self.queue.add(f"claim:{ref.get('namespace', '')}/{ref.get('name', '')}")
        else:
            for claim in self.claims.store:  # a free volume may be what a pending claim waits for
                if not (claim.get("spec") or {}).get("volumeName"):
                    self._claim_event(claim)

    def _volume_gone(self, volume: Obj) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if isinstance(ref, dict):
            self.queue.add(f"claim:{ref.get('namespace', '')}/{ref.get('name', '')}")

    def _claim_event(self, claim: Obj) -> None:
        self.queue.add(f"claim:{_meta(claim).get('namespace', '')}/{_meta(claim).get('name', '')}")
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(f"volume:{name}")

    def _claim_gone(self, claim: Obj) -> None:
        meta = _meta(claim)
        self._told.pop(f"{meta.get('namespace', '')}/{meta.get('name', '')}", None)
        for volume in self.volumes.store:
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            if ref.get("name") == meta.get("name") and ref.get("namespace") == meta.get("namespace"):
                self.queue.add(f"volume:{_meta(volume).get('name', '')}")

    async def reconcile(self, key: str) -> float | None:
        kind, _, rest = key.partition(":")
        try:
            if kind == "claim":
                return await self._sync_claim(rest)
            return await self._sync_volume(rest)
        except Conflict:
            return _RETRY_S
        except NotFound:
            return None

    # -- writes --------------------------------------------------------------------------
    async def _claim_status(self, claim: Obj, status: dict[str, Any]) -> Obj:
        if all((claim.get("status") or {}).get(k) == v for k, v in status.items()):
            return claim
        new = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim}
        new["status"] = {**(claim.get("status") or {}), **status}
        if status.get("phase") != "Bound":
            for stale in ("capacity", "accessModes"):
                if stale not in status:
                    new["status"].pop(stale, None)
        return await self.client.update_status(PERSISTENT_VOLUME_CLAIMS, new)

    async def _volume_phase(self, volume: Obj, phase: str, message: str = "", reason: str = "") -> Obj:
        status = volume.get("status") or {}
        if status.get("phase") == phase and status.get("message", "") == message:
            return volume
        new = {"apiVersion": "v1", "kind": "PersistentVolume", **volume}
        new["status"] = {k: v for k, v in (("phase", phase), ("message", message), ("reason", reason)) if v}
        return await self.client.update_status(PERSISTENT_VOLUMES, new)

    async def _bind(self, volume: Obj, claim: Obj) -> None:
        meta = _meta(claim)
        ref = {
            "kind": "PersistentVolumeClaim",
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "apiVersion": "v1",
            "resourceVersion": meta.get("resourceVersion"),
        }
        if (volume.get("spec") or {}).get("claimRef", {}).get("uid") != meta.get("uid"):
            new = {"apiVersion": "v1", "kind": "PersistentVolume", **volume}
            new["spec"] = {**(volume.get("spec") or {}), "claimRef": ref}
            if not (volume.get("spec") or {}).get("claimRef"):
                annotations = dict(_meta(volume).get("annotations") or {})
                annotations[BOUND_BY_CONTROLLER] = "yes"
                new["metadata"] = {**_meta(volume), "annotations": annotations}
            volume = await self.client.update(PERSISTENT_VOLUMES, new)
        volume = await self._volume_phase(volume, "Bound")
        spec = claim.get("spec") or {}
        annotations = dict(meta.get("annotations") or {})
        if spec.get("volumeName") != _meta(volume)["name"] or annotations.get(BIND_COMPLETED) != "yes":
            if not spec.get("volumeName"):
                annotations[BOUND_BY_CONTROLLER] = "yes"
            annotations[BIND_COMPLETED] = "yes"
            new_claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim}
            new_claim["metadata"] = {**meta, "annotations": annotations}
            new_claim["spec"] = {**spec, "volumeName": _meta(volume)["name"]}
            claim = await self.client.update(PERSISTENT_VOLUME_CLAIMS, new_claim)
        vspec = volume.get("spec") or {}
        await self._claim_status(
            claim,
            {
                "phase": "Bound",
                "capacity": dict(vspec.get("capacity") or {}),
                "accessModes": list(vspec.get("accessModes") or []),
            },
        )
        log.info(
            "bound claim %s/%s to volume %s", meta.get("namespace"), meta.get("name"), _meta(volume)["name"]
        )

    # -- claims --------------------------------------------------------------------------
    def _node_of(self, claim: Obj) -> tuple[dict[str, str], str] | None:
        name = (_meta(claim).get("annotations") or {}).get(SELECTED_NODE)
        if not name:
            return None
        node = self.nodes.store.get(name) or {}
        return dict(_meta(node).get("labels") or {"kubernetes.io/hostname": name}), name

    async def _sync_claim(self, key: str) -> float | None:
        claim = self.claims.store.get(key)
        if claim is None or _meta(claim).get("deletionTimestamp"):
            return None
        spec = claim.get("spec") or {}
        annotations = _meta(claim).get("annotations") or {}
        volume_name = spec.get("volumeName")
        if volume_name:
            volume = self.volumes.store.get(volume_name)
            if volume is None:
                if annotations.get(BIND_COMPLETED) == "yes":
                    await self._claim_status(claim, {"phase": "Lost"})
                    await self._tell(
                        claim,
                        "Warning",
                        "ClaimLost",
                        "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
                    )
                return None
            ref = (volume.get("spec") or {}).get("claimRef")
            if not ref or prebound_to(volume, claim):
                await self._bind(volume, claim)
            elif annotations.get(BIND_COMPLETED) == "yes":
                await self._claim_status(claim, {"phase": "Lost"})
                await self._tell(
                    claim,
                    "Warning",
                    "ClaimMisbound",
                    "Two claims are bound to the same volume, this one is bound incorrectly",
                )
            return None
        class_name = claim_class(claim)
        storage_class = self.classes.store.get(class_name) if class_name else None
        waits = (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
        node = self._node_of(claim)
        if waits and node is None:
            await self._claim_status(claim, {"phase": "Pending"})
            await self._tell(
                claim,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return None
        volume = find_volume(list(self.volumes.store), claim, node)
        if volume is not None:
            await self._bind(volume, claim)
            return None
        await self._claim_status(claim, {"phase": "Pending"})
        if storage_class is None:
            await self._tell(
                claim,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set"
                if not class_name
                else f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return None
        provisioner = str(storage_class.get("provisioner") or "")
        if annotations.get(STORAGE_PROVISIONER) != provisioner:
            new = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim}
            new["metadata"] = {
                **_meta(claim),
                "annotations": {
                    **annotations,
                    STORAGE_PROVISIONER: provisioner,
                    _BETA_PROVISIONER: provisioner,
                },
            }
            await self.client.update(PERSISTENT_VOLUME_CLAIMS, new)
            await self._tell(
                claim,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                "manually by the system administrator. If volume creation is delayed, please verify that "
                "the provisioner is running and correctly registered.",
            )
        return None

    # -- volumes -------------------------------------------------------------------------
    async def _sync_volume(self, name: str) -> float | None:
        volume = self.volumes.store.get(name)
        if volume is None:
            return None
        # A volume being deleted is still followed to Released when its claim goes: the PV
        # protection finalizer holds it until it is no longer Bound (as upstream's).
        deleting = bool(_meta(volume).get("deletionTimestamp"))
        spec = volume.get("spec") or {}
        ref = spec.get("claimRef")
        if deleting and not (isinstance(ref, dict) and ref.get("uid")):
            return None
        if not isinstance(ref, dict):
            await self._volume_phase(volume, "Available")
            return None
        if not ref.get("uid"):
            await self._volume_phase(volume, "Available")  # pre-bound by a user, waiting for that claim
            return None
        claim = self.claims.store.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if claim is None or _meta(claim).get("uid") != ref.get("uid"):
            try:  # the cache may lag a new claim: ask the server before releasing
                claim = await self.client.get(
                    PERSISTENT_VOLUME_CLAIMS, ref.get("name", ""), ref.get("namespace")
                )
            except NotFound:
                claim = None
            if claim is not None and _meta(claim).get("uid") == ref.get("uid"):
                return _RETRY_S
            return await self._released(volume)
        if deleting:
            return None
        if (claim.get("spec") or {}).get("volumeName") in (None, "", name):
            if (claim.get("spec") or {}).get("volumeName") != name or (volume.get("status") or {}).get(
                "phase"
            ) != "Bound":
                await self._bind(volume, claim)
            return None
        # the claim is bound to another volume: this one was bound by us in error
        if (_meta(volume).get("annotations") or {}).get(BOUND_BY_CONTROLLER) == "yes":
            new = {"apiVersion": "v1", "kind": "PersistentVolume", **volume}
            new["spec"] = {k: v for k, v in spec.items() if k != "claimRef"}
            await self.client.update(PERSISTENT_VOLUMES, new)
        return None

    async def _released(self, volume: Obj) -> float | None:
        volume = await self._volume_phase(volume, "Released")
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return None
        if policy == "Delete":
            if (_meta(volume).get("annotations") or {}).get(PROVISIONED_BY):
                return None  # its provisioner deletes the backing and then the object
            await self._volume_phase(
                volume,
                "Failed",
                f'error getting deleter volume plugin for volume "{_meta(volume)["name"]}": '
                "no deletable volume plugin matched",
                "VolumeFailedDelete",
            )
            return None
        await self._volume_phase(volume, "Failed", "Recycle is not supported by kprov", "VolumeFailedRecycle")
        return None
