"""The optional beta versions as views of their group's v1 (the stored version).

Design: kprov serves ``admissionregistration.k8s.io/v1beta1`` (ValidatingAdmissionPolicy,
ValidatingAdmissionPolicyBinding) and ``flowcontrol.apiserver.k8s.io/v1beta3`` (FlowSchema,
PriorityLevelConfiguration) only when --runtime-config enables them; their objects are the
ones stored in v1 (docs/decisions/0046-beta-api-versions.md). The schemas are the same as
v1's in kube v1.32, so conversion rewrites ``apiVersion``, except for one field:

- v1beta3's ``limited.nominalConcurrencyShares`` is a plain integer where 0 meant "unset"
  (defaulted to 30), while v1's 0 is a real value (no seats of its own, only borrowed ones).
  As upstream's conversion (v1.29-v1.31): v1 -> v1beta3 of a limited level with 0 shares
  adds the annotation ``flowcontrol.k8s.io/v1-zero-nominalConcurrencyShares: ""``; v1beta3
  -> v1 drops that annotation; and v1beta3's defaulting (`default_v1beta3_priority_level`)
  sets 30 only when the shares are 0 and the annotation is absent. So a v1beta3 client's
  read-modify-write of a zero-share level keeps 0.

Pure functions over dicts; the API server calls them on reads and writes of either version.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ADMISSION_V1",
    "ADMISSION_V1BETA1",
    "FLOWCONTROL_V1",
    "FLOWCONTROL_V1BETA3",
    "VIEWS",
    "ZERO_SHARES_ANNOTATION",
    "convert_admission_policy",
    "convert_flow_schema",
    "convert_priority_level",
    "default_v1beta3_priority_level",
]

Obj = dict[str, Any]

ADMISSION_V1 = "admissionregistration.k8s.io/v1"
ADMISSION_V1BETA1 = "admissionregistration.k8s.io/v1beta1"
FLOWCONTROL_V1 = "flowcontrol.apiserver.k8s.io/v1"
FLOWCONTROL_V1BETA3 = "flowcontrol.apiserver.k8s.io/v1beta3"
ZERO_SHARES_ANNOTATION = "flowcontrol.k8s.io/v1-zero-nominalConcurrencyShares"
_DEFAULT_SHARES = 30  # v1beta3's (and v1's) default nominalConcurrencyShares of a limited level

# (group, version) of the versions that are views of another stored version
VIEWS: frozenset[tuple[str, str]] = frozenset(
    {("admissionregistration.k8s.io", "v1beta1"), ("flowcontrol.apiserver.k8s.io", "v1beta3")}
)


def convert_admission_policy(obj: Obj, api_version: str) -> Obj:
    """A ValidatingAdmissionPolicy or its Binding in ``api_version`` (v1 or v1beta1)."""
    return _relabelled(obj, api_version)


def convert_flow_schema(obj: Obj, api_version: str) -> Obj:
    """A FlowSchema in ``api_version`` (v1 or v1beta3)."""
    return _relabelled(obj, api_version)


def convert_priority_level(obj: Obj, api_version: str) -> Obj:
    """A PriorityLevelConfiguration in ``api_version`` (v1 or v1beta3), keeping a zero
    ``nominalConcurrencyShares`` through v1beta3 in the round-trip annotation."""
    if obj.get("apiVersion") == api_version:
        return obj
    out = {**obj, "apiVersion": api_version}
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    if api_version == FLOWCONTROL_V1BETA3:
        spec = obj.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        limited = spec.get("limited")
        if isinstance(limited, dict) and not limited.get("nominalConcurrencyShares"):
            # v1beta3's field is not a pointer: always present, 0 when v1's was 0 or unset
            out["spec"] = {**spec, "limited": {**limited, "nominalConcurrencyShares": 0}}
            annotations.setdefault(ZERO_SHARES_ANNOTATION, "")
    elif ZERO_SHARES_ANNOTATION in annotations:
        del annotations[ZERO_SHARES_ANNOTATION]
    else:
        return out
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def default_v1beta3_priority_level(obj: Obj) -> None:
    """v1beta3's defaulting of a limited level's shares (before v1's): 0 or absent means 30
    unless the zero-shares annotation says the 0 is meant."""
    spec = obj.get("spec")
    limited = spec.get("limited") if isinstance(spec, dict) else None
    if not isinstance(limited, dict) or limited.get("nominalConcurrencyShares"):
        return
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if ZERO_SHARES_ANNOTATION in annotations:
        limited["nominalConcurrencyShares"] = 0
    else:
        limited["nominalConcurrencyShares"] = _DEFAULT_SHARES


def _relabelled(obj: Obj, api_version: str) -> Obj:
    return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}
