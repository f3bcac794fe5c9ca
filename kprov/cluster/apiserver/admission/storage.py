"""Admission for volumes: kube-apiserver's DefaultStorageClass and
StorageObjectInUseProtection plugins, and the create strategies' fresh status.

Design: a claim created without ``spec.storageClassName`` (and without the beta class
annotation) gets the default StorageClass's name: the class annotated
``storageclass.kubernetes.io/is-default-class: "true"``, the newest one when several are
(as upstream since 1.26), none when there is none (the claim then waits for a class, as
upstream's retroactive assignment is not done here; :mod:`.default_class`). Every new claim gets the
``kubernetes.io/pvc-protection`` finalizer and every new volume ``kubernetes.io/pv-protection``;
the volume-protection controller removes them once nothing uses the claim / no claim is
bound to the volume. A new PV or claim starts with status ``{phase: Pending}`` whatever the
client sent.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.printers.storage import is_default_class
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission.default_class import find_default_class, newest_default
from kprov.cluster.apiserver.context import ApiContext

__all__ = [
    "PV_PROTECTION", "PVC_PROTECTION", "default_class", "default_class_name", "fresh_status", "protect"
]

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def default_class_name(classes: list[dict[str, Any]]) -> str | None:
    """The default class among ``classes``: the newest annotated one (ties: the lower name)."""
    return newest_default(classes, is_default_class)


def _add_finalizer(obj: dict[str, Any], name: str) -> None:
    meta = obj.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    if name not in finalizers:
        meta["finalizers"] = [*finalizers, name]


def fresh_status(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """The create strategies' part: a new PV or claim starts Pending, whatever was sent."""
    obj["status"] = {"phase": "Pending"}


def protect(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """StorageObjectInUseProtection: the protection finalizer of a new volume or claim."""
    _add_finalizer(obj, PV_PROTECTION if info.resource == "persistentvolumes" else PVC_PROTECTION)


async def default_class(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    """DefaultStorageClass: a new claim without a class gets the default one's name."""
    if info.resource != "persistentvolumeclaims":
        return
    spec = obj.setdefault("spec", {})
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if spec.get("storageClassName") is not None or _BETA_CLASS in annotations:
        return
    found = await find_default_class(ctx, "storage.k8s.io", "storageclasses", is_default_class)
    if found is not None:
        spec["storageClassName"] = found
