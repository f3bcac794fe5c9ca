"""Table printers for PersistentVolumes, PersistentVolumeClaims and StorageClasses (columns and
cells as upstream's printPersistentVolume / printPersistentVolumeClaim / printStorageClass).

A PV or claim being deleted shows ``Terminating``; access modes print as ``RWO,ROX,RWX,RWOP``;
a claim shows capacity and access modes only once it names its volume; the default class
prints ``NAME (default)``.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, Age, Column, Printer, created, name_of

__all__ = [
    "CSIDRIVER",
    "PERSISTENTVOLUME",
    "PERSISTENTVOLUMECLAIM",
    "STORAGECLASS",
    "VOLUMEATTACHMENT",
    "access_modes",
    "is_default_class",
]

_SHORT = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def access_modes(modes: list[str] | None) -> str:
    given = set(modes or [])
    return ",".join(short for long, short in _SHORT if long in given)


def is_default_class(obj: dict[str, Any]) -> bool:
    annotations = get_path(obj, "metadata.annotations", {}) or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def _phase(obj: dict[str, Any]) -> str:
    if get_path(obj, "metadata.deletionTimestamp"):
        return "Terminating"
    return str(get_path(obj, "status.phase", "") or "")


def _class_of(obj: dict[str, Any]) -> str:
    beta = (get_path(obj, "metadata.annotations", {}) or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else get_path(obj, "spec.storageClassName", "") or "")


def _unset(value: Any) -> str:
    return "<unset>" if value is None else str(value)


_VAC = Column("VolumeAttributesClass", description="VolumeAttributesClass the volume uses.")
_MODE = Column("VolumeMode", description="The volume mode.", priority=1)
_MODES = Column("Access Modes", description="The access modes the volume can be mounted with.")
_CLASS = Column("StorageClass", description="The storage class of the volume.")


def _pv_row(obj: dict[str, Any], age: Age) -> list[Any]:
    ref = get_path(obj, "spec.claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else ""
    return [
        name_of(obj),
        str(get_path(obj, "spec.capacity.storage", "") or ""),
        access_modes(get_path(obj, "spec.accessModes")),
        str(get_path(obj, "spec.persistentVolumeReclaimPolicy", "") or ""),
        _phase(obj),
        claim,
        _class_of(obj),
        _unset(get_path(obj, "spec.volumeAttributesClassName")),
        str(get_path(obj, "status.reason", "") or ""),
        created(obj, age),
        _unset(get_path(obj, "spec.volumeMode")),
    ]


PERSISTENTVOLUME = Printer(
    (
        NAME,
        Column("Capacity", description="The capacity of the volume."),
        _MODES,
        Column("Reclaim Policy", description="What happens to the volume when its claim is released."),
        Column("Status", description="The phase of the volume."),
        Column("Claim", description="The claim bound to the volume."),
        _CLASS,
        _VAC,
        Column("Reason", description="Why the volume is in its phase."),
        AGE,
        _MODE,
    ),
    _pv_row,
)


def _pvc_row(obj: dict[str, Any], age: Age) -> list[Any]:
    volume = str(get_path(obj, "spec.volumeName", "") or "")
    capacity, modes = "", ""
    if volume:
        capacity = str(get_path(obj, "status.capacity.storage", "") or "")
        modes = access_modes(get_path(obj, "status.accessModes"))
    return [
        name_of(obj),
        _phase(obj),
        volume,
        capacity,
        modes,
        _class_of(obj),
        _unset(get_path(obj, "spec.volumeAttributesClassName")),
        created(obj, age),
        _unset(get_path(obj, "spec.volumeMode")),
    ]


PERSISTENTVOLUMECLAIM = Printer(
    (
        NAME,
        Column("Status", description="The phase of the claim."),
        Column("Volume", description="The volume bound to the claim."),
        Column("Capacity", description="The capacity of the bound volume."),
        _MODES,
        _CLASS,
        _VAC,
        AGE,
        _MODE,
    ),
    _pvc_row,
)


def _class_row(obj: dict[str, Any], age: Age) -> list[Any]:
    name = name_of(obj)
    return [
        f"{name} (default)" if is_default_class(obj) else name,
        str(obj.get("provisioner") or ""),
        str(obj.get("reclaimPolicy") or "Delete"),
        str(obj.get("volumeBindingMode") or "Immediate"),
        bool(obj.get("allowVolumeExpansion")),
        created(obj, age),
    ]


STORAGECLASS = Printer(
    (
        NAME,
        Column("Provisioner", description="The provisioner volumes of the class come from."),
        Column("ReclaimPolicy", description="What happens to dynamically provisioned volumes when released."),
        Column("VolumeBindingMode", description="When volumes are bound and provisioned."),
        Column("AllowVolumeExpansion", description="Whether claims of the class may grow."),
        AGE,
    ),
    _class_row,
)


def _driver_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    tokens = [str(t.get("audience") or "<unset>") for t in spec.get("tokenRequests") or []]
    return [
        name_of(obj),
        bool(spec.get("attachRequired", True)),
        bool(spec.get("podInfoOnMount")),
        bool(spec.get("storageCapacity")),
        ",".join(tokens) if tokens else "<unset>",
        bool(spec.get("requiresRepublish")),
        ",".join(spec.get("volumeLifecycleModes") or []),
        created(obj, age),
    ]


CSIDRIVER = Printer(
    (
        NAME,
        Column("AttachRequired", type="boolean", description="Whether the driver needs an attach operation."),
        Column("PodInfoOnMount", type="boolean", description="Whether the driver is given pod information."),
        Column("StorageCapacity", type="boolean", description="Whether the driver publishes capacities."),
        Column("TokenRequests", description="The audiences of the tokens the driver is given."),
        Column("RequiresRepublish", type="boolean", description="Whether NodePublishVolume is called again."),
        Column("Modes", description="The volume lifecycle modes the driver supports."),
        AGE,
    ),
    _driver_row,
)


def _attachment_row(obj: dict[str, Any], age: Age) -> list[Any]:
    return [
        name_of(obj),
        str(get_path(obj, "spec.attacher", "") or ""),
        str(get_path(obj, "spec.source.persistentVolumeName", "") or ""),
        str(get_path(obj, "spec.nodeName", "") or ""),
        bool(get_path(obj, "status.attached", False)),
        created(obj, age),
    ]


VOLUMEATTACHMENT = Printer(
    (
        NAME,
        Column(
            "Attacher",
            format="name",
            description="attacher indicates the name of the volume driver that MUST handle this request. "
            "This is the name returned by GetPluginName().",
        ),
        Column(
            "PV", description="persistentVolumeName represents the name of the persistent volume to attach."
        ),
        Column("Node", description="nodeName represents the node that the volume should be attached to."),
        Column(
            "Attached",
            type="boolean",
            description="attached indicates the volume is successfully attached. This field must only be set "
            "by the entity completing the attach operation, i.e. the external-attacher.",
        ),
        AGE,
    ),
    _attachment_row,
)
