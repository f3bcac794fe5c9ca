"""Validation of workloads and pod templates: Deployments, ReplicaSets, StatefulSets,
DaemonSets, ReplicationControllers and PodTemplates, with kube-apiserver's field paths and
wording (a selector that must match the template's labels, non-negative counts, the
StatefulSet fields that cannot change, and the pod template's spec as a pod's)."""

from __future__ import annotations

import json
from typing import Any

from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.labels import validate_labels
from kprov.cluster.api.validation.pod import validate_pod_spec
from kprov.cluster.api.validation.storage import validate_claim_spec

__all__ = [
    "validate_daemonset",
    "validate_deployment",
    "validate_podtemplate",
    "validate_replicaset",
    "validate_replicationcontroller",
    "validate_statefulset",
]


def _selector_matches_template(
    errors: Errors, spec: dict[str, Any], path: str, *, required: bool = True
) -> None:
    selector = spec.get("selector")
    if selector is None:
        if required:
            errors.required(f"{path}.selector")
        return
    try:
        parsed = label_selector_from_object(selector)
    except SelectorError as exc:
        errors.invalid(f"{path}.selector", selector, str(exc))
        return
    if parsed.empty:
        errors.invalid(f"{path}.selector", selector, "empty selector is invalid for deployment")
        return
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not parsed.matches(labels):
        errors.invalid(
            f"{path}.template.metadata.labels", labels, "`selector` does not match template `labels`"
        )


def _non_negative(errors: Errors, spec: dict[str, Any], field: str, path: str) -> None:
    value = spec.get(field)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        errors.invalid(f"{path}.{field}", value, "must be greater than or equal to 0")


def _workload(
    errors: Errors,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    selector_required: bool = True,
    replicas: bool = True,
) -> dict[str, Any]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errors.required("spec")
        return {}
    _selector_matches_template(errors, spec, "spec", required=selector_required)
    template = spec.get("template") or {}
    validate_labels(errors, (template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels")
    validate_pod_spec(errors, template.get("spec"), "spec.template.spec", restart_policies=("Always",))
    if replicas:
        _non_negative(errors, spec, "replicas", "spec")
    for field in ("minReadySeconds", "revisionHistoryLimit"):
        _non_negative(errors, spec, field, "spec")
    if old is not None and (old.get("spec") or {}).get("selector") != spec.get("selector"):
        errors.immutable("spec.selector", spec.get("selector"))
    return spec


def validate_deployment(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = _workload(errors, obj, old)
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in ("Recreate", "RollingUpdate"):
        errors.not_supported("spec.strategy.type", kind, ("Recreate", "RollingUpdate"))
    if kind == "Recreate" and strategy.get("rollingUpdate"):
        errors.forbidden(
            "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
        )
    rolling = strategy.get("rollingUpdate") or {}
    if rolling and rolling.get("maxSurge") in (0, "0%") and rolling.get("maxUnavailable") in (0, "0%"):
        errors.invalid(
            "spec.strategy.rollingUpdate.maxUnavailable",
            rolling.get("maxUnavailable"),
            "may not be 0 when `maxSurge` is 0",
        )
    deadline = spec.get("progressDeadlineSeconds")
    if (
        isinstance(deadline, int)
        and isinstance(spec.get("minReadySeconds"), int)
        and deadline <= spec["minReadySeconds"]
    ):
        errors.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")


def validate_replicaset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    _workload(errors, obj, old)


def validate_statefulset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = _workload(errors, obj, old)
    # the pod template may mount a claim template by name (its pods get that volume)
    claims = {
        json.dumps(str(((c or {}).get("metadata") or {}).get("name") or ""))
        for c in spec.get("volumeClaimTemplates") or []
    }
    errors.causes[:] = [
        c
        for c in errors.causes
        if not (
            c.reason == "FieldValueNotFound"
            and ".volumeMounts[" in c.field
            and c.message.removeprefix("Not found: ") in claims
        )
    ]
    policy = spec.get("podManagementPolicy")
    if policy is not None and policy not in ("OrderedReady", "Parallel"):
        errors.not_supported("spec.podManagementPolicy", policy, ("OrderedReady", "Parallel"))
    for index, claim in enumerate(spec.get("volumeClaimTemplates") or []):
        validate_claim_spec(
            errors, (claim or {}).get("spec") or {}, f"spec.volumeClaimTemplates[{index}].spec"
        )
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for key in ("whenDeleted", "whenScaled"):
        if retention.get(key) not in (None, "Retain", "Delete"):
            errors.not_supported(
                f"spec.persistentVolumeClaimRetentionPolicy.{key}", retention[key], ("Retain", "Delete")
            )
    if old is not None:
        old_spec = old.get("spec") or {}
        for field in ("serviceName", "podManagementPolicy", "volumeClaimTemplates"):
            if old_spec.get(field) != spec.get(field):
                errors.forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', "
                    "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
                    "and 'minReadySeconds' are forbidden",
                )
                break


def validate_daemonset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = _workload(errors, obj, old, replicas=False)
    kind = (spec.get("updateStrategy") or {}).get("type")
    if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
        errors.not_supported("spec.updateStrategy.type", kind, ("OnDelete", "RollingUpdate"))


def validate_replicationcontroller(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errors.required("spec")
        return
    selector = spec.get("selector") or {}
    if not selector:
        errors.required("spec.selector")
    _non_negative(errors, spec, "replicas", "spec")
    _non_negative(errors, spec, "minReadySeconds", "spec")
    template = spec.get("template")
    if not isinstance(template, dict):
        errors.required("spec.template")
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    validate_labels(errors, labels, "spec.template.metadata.labels")
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errors.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    validate_pod_spec(errors, template.get("spec"), "spec.template.spec", restart_policies=("Always",))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicationController is not Supported",
        )


def validate_podtemplate(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    template = obj.get("template")
    if not isinstance(template, dict):
        errors.required("template")
        return
    validate_labels(errors, (template.get("metadata") or {}).get("labels"), "template.metadata.labels")
    validate_pod_spec(errors, template.get("spec"), "template.spec")

