"""local-path-provisioner: dynamic volumes that are a directory on one node's disk.

Design (why a controller plus the kubelet, not a node agent): the provisioner's decisions
(which claim, what size, which node) need only the API, so they live here, in the
controller manager, under its identity, which may already write PersistentVolumes; the
directory itself is the node's business and the kubelet already owns that disk. So:

- a claim annotated ``volume.kubernetes.io/storage-provisioner: kprov.io/local-path`` (the
  binder does that for claims of a class with this provisioner) with the scheduler's
  ``volume.kubernetes.io/selected-node`` gets a PV ``pvc-<claim uid>``: hostPath
  ``<volumes dir>/pvc-<uid>`` of type DirectoryOrCreate, nodeAffinity pinning it to that
  node's ``kubernetes.io/hostname``, the class's reclaim policy, ``claimRef`` pre-binding it
  to the claim (the binder completes the bind) and ``pv.kubernetes.io/provisioned-by``;
- the kubelet of that node creates the directory when it first mounts the volume;
- a Released volume of this provisioner with reclaim Delete is deleted here; the kubelet
  removes the directory of a volume that no longer exists (:mod:`kprov.cluster.kubelet.volumes.localvolumes`),
  so no node identity ever needs to write PersistentVolumes.

With ``default_class`` set (the roles set ``--default-storage-class=local-path``) the
controller creates that StorageClass at start when it is missing: WaitForFirstConsumer,
reclaim Delete, marked as the cluster's default. An existing class is left as the admin
keeps it.
"""

from __future__ import annotations

import logging
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import (
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    STORAGE_CLASSES,
)
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.storage.pvbinder import PROVISIONED_BY, SELECTED_NODE, STORAGE_PROVISIONER

__all__ = ["PROVISIONER", "VOLUMES_DIR", "LocalPathProvisioner", "default_storage_class", "volume_for"]

log = logging.getLogger(__name__)

PROVISIONER = "kprov.io/local-path"
VOLUMES_DIR = "/var/lib/kprov/volumes"
_HOSTNAME = "kubernetes.io/hostname"


def default_storage_class(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_for(claim: Obj, storage_class: Obj, node: Obj | None, node_name: str) -> dict[str, Any]:
    """The PersistentVolume that serves ``claim`` from a directory on ``node_name``."""
    meta = claim["metadata"]
    spec = claim.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    hostname = ((node or {}).get("metadata", {}).get("labels") or {}).get(_HOSTNAME, node_name)
    term = {"matchExpressions": [{"key": _HOSTNAME, "operator": "In", "values": [hostname]}]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {
                "storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
            },
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": f"{VOLUMES_DIR}/{name}", "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "apiVersion": "v1",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
        },
    }


class LocalPathProvisioner(Controller):
    name = "local-path-provisioner"
    identity = "local-path-provisioner"

    def setup(self) -> None:
        self.claims = self.ctx.informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.volumes = self.ctx.informers.get(PERSISTENT_VOLUMES)
        self.classes = self.ctx.informers.get(STORAGE_CLASSES)
        self.nodes = self.ctx.informers.get(NODES)
        self.claims.add_handler(EventHandler(self._claim, lambda _o, n: self._claim(n), None))
        self.volumes.add_handler(EventHandler(self._volume, lambda _o, n: self._volume(n), None))

    def _claim(self, claim: Obj) -> None:
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) == PROVISIONER and not (claim.get("spec") or {}).get(
            "volumeName"
        ):
            self.queue.add(
                f"claim:{claim['metadata'].get('namespace', '')}/{claim['metadata'].get('name', '')}"
            )

    def _volume(self, volume: Obj) -> None:
        annotations = (volume.get("metadata") or {}).get("annotations") or {}
        if (
            annotations.get(PROVISIONED_BY) == PROVISIONER
            and (volume.get("status") or {}).get("phase") == "Released"
        ):
            self.queue.add(f"volume:{volume['metadata']['name']}")

    async def run(self) -> None:
        if self.ctx.options.default_storage_class:
            await self._ensure_class(self.ctx.options.default_storage_class)
        await super().run()

    async def _ensure_class(self, name: str) -> None:
        try:
            await self.client.create(STORAGE_CLASSES, default_storage_class(name))
            log.info("created the default StorageClass %s", name)
        except AlreadyExists:
            pass
        except ApiError as err:
            log.warning("the default StorageClass %s was not created: %s", name, err)

    async def reconcile(self, key: str) -> float | None:
        kind, _, rest = key.partition(":")
        try:
            if kind == "claim":
                return await self._provision(rest)
            return await self._delete(rest)
        except Conflict:
            return 0.5

    async def _provision(self, key: str) -> float | None:
        claim = self.claims.store.get(key)
        if claim is None or (claim.get("metadata") or {}).get("deletionTimestamp"):
            return None
        meta = claim["metadata"]
        annotations = meta.get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) != PROVISIONER or (claim.get("spec") or {}).get("volumeName"):
            return None
        if f"pvc-{meta.get('uid')}" in self.volumes.store:
            return None
        class_name = (claim.get("spec") or {}).get("storageClassName") or ""
        storage_class = self.classes.store.get(class_name)
        if storage_class is None:
            return 2.0
        node_name = annotations.get(SELECTED_NODE)
        if not node_name:
            await self.ctx.recorder.record(
                claim, "Warning", "ProvisioningFailed", "configuration error, no node was specified"
            )
            return None
        volume = volume_for(claim, storage_class, self.nodes.store.get(node_name), node_name)
        try:
            await self.client.create(PERSISTENT_VOLUMES, volume)
        except AlreadyExists:
            return None
        await self.ctx.recorder.record(
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume['metadata']['name']}",
        )
        log.info("provisioned %s for claim %s on %s", volume["metadata"]["name"], key, node_name)
        return None

    async def _delete(self, name: str) -> float | None:
        volume = self.volumes.store.get(name)
        if volume is None or (volume.get("metadata") or {}).get("deletionTimestamp"):
            return None
        annotations = (volume.get("metadata") or {}).get("annotations") or {}
        spec = volume.get("spec") or {}
        if (
            annotations.get(PROVISIONED_BY) != PROVISIONER
            or (volume.get("status") or {}).get("phase") != "Released"
            or spec.get("persistentVolumeReclaimPolicy") != "Delete"
        ):
            return None
        try:
            await self.client.delete(PERSISTENT_VOLUMES, name, uid=volume["metadata"].get("uid"))
        except NotFound:
            return None
        log.info("deleted released volume %s (its node's kubelet removes the directory)", name)
        return None
