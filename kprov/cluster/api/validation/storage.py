"""Validation of PersistentVolumes, PersistentVolumeClaims (core/v1) and StorageClasses
(storage.k8s.io/v1), with kube-apiserver's field paths and wording.

Design: the checks users meet (pkg/apis/core/validation's PV/PVC functions and
pkg/apis/storage/validation's StorageClass ones): access modes present and known (and
ReadWriteOncePod alone), a positive ``storage`` request/capacity, exactly one volume source
(only hostPath, local, nfs and csi have their own field checks here), local volumes pinned
by nodeAffinity, known reclaim policies and volume modes, class names that are DNS
subdomains. Updates: a PV's source and volumeMode never change, nor a set nodeAffinity; a
claim's spec is frozen except the storage request (never smaller) and an unset volumeName; a
class's provisioner, parameters, reclaimPolicy and volumeBindingMode are frozen.
VolumeAttachments: a CSI driver name as attacher, exactly one source, a node name; the spec
never changes.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_subdomain_errors, qualified_name_errors

__all__ = [
    "validate_claim_spec",
    "validate_pv",
    "validate_pvc",
    "validate_storage_class",
    "validate_volume_attachment",
]

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_PV_RECLAIM = ("Delete", "Recycle", "Retain")
_CLASS_RECLAIM = ("Delete", "Retain")
_BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
# Every PersistentVolumeSource member, in the order upstream checks them.
_PV_SOURCES = (
    "gcePersistentDisk",
    "hostPath",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)


def _class_name(errors: Errors, value: Any, path: str) -> None:
    if value:
        for message in dns1123_subdomain_errors(str(value)):
            errors.invalid(path, value, message)


def _access_modes(errors: Errors, modes: Any, path: str) -> None:
    modes = modes or []
    if not modes:
        errors.required(path, "at least 1 access mode is required")
    for mode in modes:
        if mode not in ACCESS_MODES:
            errors.not_supported(path, mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errors.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _positive_storage(errors: Errors, value: Any, path: str) -> None:
    try:
        amount = parse_quantity(value)
    except (ValueError, ArithmeticError):
        errors.invalid(path, value, "must be a valid quantity")
        return
    if amount <= 0:
        errors.invalid(path, value, "must be greater than zero")


def _volume_mode(errors: Errors, value: Any, path: str) -> None:
    if value is not None and value not in _VOLUME_MODES:
        errors.not_supported(path, value, _VOLUME_MODES)


def _source(errors: Errors, spec: dict[str, Any]) -> str:
    """Check the one volume source; return its field name ('' when none)."""
    chosen = ""
    for name in _PV_SOURCES:
        if spec.get(name) is None:
            continue
        if chosen:
            errors.forbidden(f"spec.{name}", "may not specify more than 1 volume type")
            continue
        chosen = name
        source = spec[name] if isinstance(spec[name], dict) else {}
        if name in ("hostPath", "local") and not source.get("path"):
            errors.required(f"spec.{name}.path")
        if name == "local" and source.get("path") and not str(source["path"]).startswith("/"):
            errors.invalid("spec.local.path", source["path"], "must be an absolute path")
        if name == "hostPath" and source.get("type") not in (None, *_HOST_PATH_TYPES):
            errors.not_supported("spec.hostPath.type", source.get("type"), _HOST_PATH_TYPES[1:])
        if name == "nfs":
            if not source.get("server"):
                errors.required("spec.nfs.server")
            if not source.get("path"):
                errors.required("spec.nfs.path")
        if name == "csi":
            if not source.get("driver"):
                errors.required("spec.csi.driver")
            if not source.get("volumeHandle"):
                errors.required("spec.csi.volumeHandle")
    if not chosen:
        errors.required("spec", "must specify a volume type")
    return chosen


def validate_pv(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    capacity = spec.get("capacity") or {}
    if not capacity:
        errors.required("spec.capacity")
    elif "storage" not in capacity or len(capacity) > 1:
        errors.not_supported("spec.capacity", capacity, ("storage",))
    else:
        _positive_storage(errors, capacity["storage"], "spec.capacity[storage]")
    _access_modes(errors, spec.get("accessModes"), "spec.accessModes")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in _PV_RECLAIM:
        errors.not_supported("spec.persistentVolumeReclaimPolicy", policy, _PV_RECLAIM)
    source = _source(errors, spec)
    if source == "local" and not spec.get("nodeAffinity"):
        errors.required("metadata.annotations", "Local volume requires node affinity")
    affinity = spec.get("nodeAffinity")
    if affinity is not None and not ((affinity.get("required") or {}).get("nodeSelectorTerms")):
        errors.required(
            "spec.nodeAffinity.required.nodeSelectorTerms", "must have at least one node selector term"
        )
    _class_name(errors, spec.get("storageClassName"), "spec.storageClassName")
    _volume_mode(errors, spec.get("volumeMode"), "spec.volumeMode")
    if old is None:
        return
    old_spec = old.get("spec") or {}
    if {k: spec.get(k) for k in _PV_SOURCES} != {k: old_spec.get(k) for k in _PV_SOURCES}:
        errors.forbidden(
            "spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"
        )
    if spec.get("volumeMode") != old_spec.get("volumeMode"):
        errors.immutable("volumeMode", spec.get("volumeMode"))
    if old_spec.get("nodeAffinity") is not None and spec.get("nodeAffinity") != old_spec["nodeAffinity"]:
        errors.immutable("nodeAffinity", spec.get("nodeAffinity"))


def validate_claim_spec(errors: Errors, spec: dict[str, Any], path: str) -> None:
    """A claim's spec (also a StatefulSet's volumeClaimTemplates[i].spec)."""
    _access_modes(errors, spec.get("accessModes"), f"{path}.accessModes")
    if spec.get("selector") is not None:
        try:
            label_selector_from_object(spec["selector"])
        except SelectorError as exc:
            errors.invalid(f"{path}.selector", spec["selector"], str(exc))
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        errors.required(f"{path}.resources[storage]")
    else:
        _positive_storage(errors, requests["storage"], f"{path}.resources[storage]")
    _class_name(errors, spec.get("storageClassName"), f"{path}.storageClassName")
    _volume_mode(errors, spec.get("volumeMode"), f"{path}.volumeMode")


def validate_pvc(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    validate_claim_spec(errors, spec, "spec")
    if old is None:
        return
    old_spec = dict(old.get("spec") or {})
    new_spec = dict(spec)
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")
    bound = (obj.get("status") or {}).get("phase") == "Bound"
    if bound:
        new_spec["resources"] = {
            **(new_spec.get("resources") or {}),
            "requests": {
                **((new_spec.get("resources") or {}).get("requests") or {}),
                "storage": ((old_spec.get("resources") or {}).get("requests") or {}).get("storage"),
            },
        }
    if {k: v for k, v in new_spec.items() if v is not None} != {
        k: v for k, v in old_spec.items() if v is not None
    }:
        errors.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName "
            "for bound claims",
        )
    # any JSON value: parse_quantity's TypeError is caught below
    old_size: Any = ((old.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    new_size: Any = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    try:
        smaller = parse_quantity(new_size) < parse_quantity(old_size)
    except (ValueError, ArithmeticError, TypeError):
        smaller = False
    if smaller:
        errors.forbidden("spec.resources.requests.storage", "field can not be less than previous value")


def validate_storage_class(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    provisioner = obj.get("provisioner")
    if not provisioner:
        errors.required("provisioner")
    else:
        for message in qualified_name_errors(str(provisioner).lower()):
            errors.invalid("provisioner", provisioner, message)
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in _CLASS_RECLAIM:
        errors.not_supported("reclaimPolicy", policy, _CLASS_RECLAIM)
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errors.required("volumeBindingMode")
    elif mode not in _BINDING_MODES:
        errors.not_supported("volumeBindingMode", mode, _BINDING_MODES)
    if old is None:
        return
    if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
        errors.forbidden("parameters", "updates to parameters are forbidden.")
    if provisioner != old.get("provisioner"):
        errors.forbidden("provisioner", "updates to provisioner are forbidden.")
    if policy != old.get("reclaimPolicy"):
        errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")
    if mode != old.get("volumeBindingMode"):
        errors.immutable("volumeBindingMode", mode)


def _csi_driver_name(errors: Errors, value: str, path: str) -> None:
    """apivalidation.ValidateCSIDriverName."""
    if not value:
        errors.required(path)
    if len(value) > 63:
        errors.too_long(path, 63)
    errors.each(path, value, dns1123_subdomain_errors(value.lower()))


def validate_volume_attachment(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """ValidateVolumeAttachment with storage/v1's tightening (ValidateVolumeAttachmentV1),
    and on update the spec is immutable."""
    spec = obj.get("spec") or {}
    _csi_driver_name(errors, str(spec.get("attacher") or ""), "spec.attacher")
    source = spec.get("source") or {}
    pv_name, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
    exactly_one = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
    if pv_name is None and inline is None:
        errors.required("spec.source", exactly_one)
    elif pv_name is not None and inline is not None:
        errors.forbidden("spec.source", exactly_one)
    elif pv_name is not None:
        if not pv_name:
            errors.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName")
        else:
            errors.each("spec.source.persistentVolumeName", pv_name, dns1123_subdomain_errors(str(pv_name)))
    node = str(spec.get("nodeName") or "")
    errors.each("spec.nodeName", node, dns1123_subdomain_errors(node))
    if old is not None and (old.get("spec") or {}) != spec:
        errors.invalid("spec", spec, "field is immutable")
