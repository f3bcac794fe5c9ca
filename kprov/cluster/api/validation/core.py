"""Validation of objects on create and update, worded like the real API server (422 causes).

Design: `validate(info, obj, old)` checks metadata (names, labels, annotations,
immutable identity on update) and then the kind's own rules (one small function per kind;
pod specs live in _validation_pod). It returns `Cause`s; the server wraps a non-empty list
in `InvalidError`. Validation runs after defaults, as the real server does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from kprov.cluster.api.crd.definition import validate_crd
from kprov.cluster.api.errors import Cause
from kprov.cluster.api.kinds import events as _events
from kprov.cluster.api.kinds.apiregistration import GROUP as APIREGISTRATION_GROUP
from kprov.cluster.api.kinds.apiregistration import name_errors as apiservice_name_errors
from kprov.cluster.api.kinds.apiregistration import validate_apiservice
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.admission_policy import validate_policy, validate_policy_binding
from kprov.cluster.api.validation.autoscaling import validate_hpa
from kprov.cluster.api.validation.batch import validate_cronjob, validate_job
from kprov.cluster.api.validation.certificates import validate_csr
from kprov.cluster.api.validation.ephemeral import validate_ephemeral_create, validate_ephemeral_update
from kprov.cluster.api.validation.field_errors import Errors, go_value
from kprov.cluster.api.validation.names import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)
from kprov.cluster.api.validation.networking import validate_network_policy
from kprov.cluster.api.validation.node import validate_runtime_class
from kprov.cluster.api.validation.pod import port_name_errors, validate_pod_spec, validate_pod_update
from kprov.cluster.api.validation.policy import validate_pdb, validate_priority_class
from kprov.cluster.api.validation.rbac_kinds import (
    RBAC_GROUP,
    path_segment_errors,
    validate_binding,
    validate_role,
)
from kprov.cluster.api.validation.storage import (
    validate_claim_spec,
    validate_pv,
    validate_pvc,
    validate_storage_class,
    validate_volume_attachment,
)
from kprov.cluster.api.wire.go_base64 import go_std_decode

__all__ = ["Cause", "validate"]

_DNS_LABEL_NAMES = {("", "Namespace"), ("", "Service")}
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_TOTAL_ANNOTATIONS = 256 * 1024
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")


def _labels(errors: Errors, labels: Any, path: str) -> None:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        key_errors = qualified_name_errors(str(key))
        value_errors = label_value_errors(str(value))
        if key_errors or value_errors:
            errors.each(path, key, key_errors)
            errors.each(path, value, value_errors)


def _metadata(errors: Errors, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    name = meta.get("name")
    if not name:
        errors.required("metadata.name", "name or generateName is required")
    else:
        check: Callable[[str], Sequence[str]] = (
            dns1123_label_errors if (info.group, info.kind) in _DNS_LABEL_NAMES else dns1123_subdomain_errors
        )
        if info.group == RBAC_GROUP:
            check = path_segment_errors
        elif info.group == APIREGISTRATION_GROUP:
            check = apiservice_name_errors
        errors.each("metadata.name", name, check(str(name)))
    if info.namespaced and not meta.get("namespace"):
        errors.required("metadata.namespace")
    elif not info.namespaced and meta.get("namespace"):
        errors.forbidden("metadata.namespace", "not allowed on this type")
    _labels(errors, meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key in annotations:
            errors.each("metadata.annotations", key, qualified_name_errors(str(key)))
        if sum(len(str(k)) + len(str(v)) for k, v in annotations.items()) > _TOTAL_ANNOTATIONS:
            errors.too_long("metadata.annotations", _TOTAL_ANNOTATIONS)
    if old is not None:
        old_meta = old.get("metadata") or {}
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if old_meta.get(field) and meta.get(field) not in (None, old_meta.get(field)):
                errors.immutable(f"metadata.{field}", meta.get(field))


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
    _labels(errors, (template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels")
    validate_pod_spec(errors, template.get("spec"), "spec.template.spec", restart_policies=("Always",))
    if replicas:
        _non_negative(errors, spec, "replicas", "spec")
    for field in ("minReadySeconds", "revisionHistoryLimit"):
        _non_negative(errors, spec, field, "spec")
    if old is not None and (old.get("spec") or {}).get("selector") != spec.get("selector"):
        errors.immutable("spec.selector", spec.get("selector"))
    return spec


def _deployment(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
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


def _replicaset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    _workload(errors, obj, old)


def _statefulset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
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


def _daemonset(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = _workload(errors, obj, old, replicas=False)
    kind = (spec.get("updateStrategy") or {}).get("type")
    if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
        errors.not_supported("spec.updateStrategy.type", kind, ("OnDelete", "RollingUpdate"))


def _replicationcontroller(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
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
    _labels(errors, labels, "spec.template.metadata.labels")
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errors.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    validate_pod_spec(errors, template.get("spec"), "spec.template.spec", restart_policies=("Always",))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicationController is not Supported",
        )


def _podtemplate(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    template = obj.get("template")
    if not isinstance(template, dict):
        errors.required("template")
        return
    _labels(errors, (template.get("metadata") or {}).get("labels"), "template.metadata.labels")
    validate_pod_spec(errors, template.get("spec"), "template.spec")


def _pod(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_pod_spec(errors, obj.get("spec"), "spec")
    if old is None:
        validate_ephemeral_create(errors, obj.get("spec"))
    else:
        validate_pod_update(errors, obj, old)


def _service(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind not in _SERVICE_TYPES:
        errors.not_supported("spec.type", kind, _SERVICE_TYPES)
    ports = spec.get("ports") or []
    if kind == "ExternalName":
        if not spec.get("externalName"):
            errors.required("spec.externalName")
    elif not ports and spec.get("clusterIP") != "None":
        errors.required("spec.ports")
    names: set[str] = set()
    numbers: set[tuple[Any, Any]] = set()
    for index, port in enumerate(ports):
        path = f"spec.ports[{index}]"
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.required(f"{path}.name")
        elif name:
            errors.each(f"{path}.name", name, dns1123_label_errors(str(name)))
            if name in names:
                errors.duplicate(f"{path}.name", name)
            names.add(name)
        number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            errors.invalid(f"{path}.port", number, "must be between 1 and 65535, inclusive")
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            errors.not_supported(f"{path}.protocol", protocol, _PROTOCOLS)
        if (number, protocol) in numbers:
            errors.duplicate(path, {"port": number, "protocol": protocol})
        numbers.add((number, protocol))
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            errors.invalid(f"{path}.targetPort", target, "must be between 1 and 65535, inclusive")
        elif isinstance(target, str) and target and port_name_errors(target):
            errors.each(f"{path}.targetPort", target, port_name_errors(target))
        node_port = port.get("nodePort")
        if node_port not in (None, 0) and kind not in ("NodePort", "LoadBalancer"):
            errors.forbidden(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'")
    _labels(errors, spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errors.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") not in (None, "", old_ip):
            errors.immutable("spec.clusterIP", spec.get("clusterIP"))


def _config_keys(errors: Errors, obj: dict[str, Any], sections: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for section in sections:
        for key in obj.get(section) or {}:
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                errors.invalid(
                    f"{section}[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric "
                    "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                    "regex used for validation is '[-._a-zA-Z0-9]+')",
                )
            elif key in seen and section != "stringData":
                errors.invalid(f"{section}[{key}]", key, "duplicate of key present in another section")
            seen.add(key)


def _immutable_data(
    errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None, sections: tuple[str, ...]
) -> None:
    if old is None or not old.get("immutable"):
        return
    for section in sections:
        if (obj.get(section) or {}) != (old.get(section) or {}):
            errors.forbidden(section, "field is immutable when `immutable` is set")
    if not obj.get("immutable"):
        errors.forbidden("immutable", "field is immutable when `immutable` is set")


def _configmap(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    _config_keys(errors, obj, ("data", "binaryData"))
    _immutable_data(errors, obj, old, ("data", "binaryData"))


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/basic-auth": (),
}


def _secret(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    _config_keys(errors, obj, ("data", "stringData"))
    for key, value in (obj.get("data") or {}).items():
        try:
            go_std_decode(str(value))
        except ValueError:
            errors.invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")
    data = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
    for key in _SECRET_REQUIRED_KEYS.get(str(obj.get("type")), ()):
        if key not in data:
            errors.required(f"data[{key}]")
    if old is not None and old.get("type") != obj.get("type"):
        errors.immutable("type", obj.get("type"))
    _immutable_data(errors, obj, old, ("data",))


def _namespace(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    for index, finalizer in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        errors.each(f"spec.finalizers[{index}]", finalizer, qualified_name_errors(str(finalizer)))


def _node(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    for index, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
        path = f"spec.taints[{index}]"
        if not taint.get("key"):
            errors.required(f"{path}.key")
        effect = taint.get("effect")
        if effect not in ("NoExecute", "NoSchedule", "PreferNoSchedule"):
            errors.not_supported(f"{path}.effect", effect, ("NoExecute", "NoSchedule", "PreferNoSchedule"))
    if old is not None:
        old_cidr = (old.get("spec") or {}).get("podCIDR")
        new_cidr = (obj.get("spec") or {}).get("podCIDR")
        if old_cidr and new_cidr != old_cidr:
            errors.forbidden("spec.podCIDR", 'node updates may not change podCIDR except from "" to valid')


def _core_event(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    _events.validate(errors, obj, old, strict=False)


def _events_v1_event(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """events.k8s.io/v1: the stored (core) form under upstream's strict rules."""
    _events.validate(errors, _events.to_core(obj), _events.to_core(old) if old else None, strict=True)


def _lease(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errors.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")


def _endpointslice(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    kinds = ("FQDN", "IPv4", "IPv6")
    address_type = obj.get("addressType")
    if not address_type:
        errors.required("addressType")
    elif address_type not in kinds:
        errors.not_supported("addressType", address_type, kinds)
    for index, endpoint in enumerate(obj.get("endpoints") or []):
        addresses = endpoint.get("addresses") or []
        if not addresses:
            errors.required(f"endpoints[{index}].addresses", "must contain at least 1 address")
    if old is not None and old.get("addressType") != address_type:
        errors.immutable("addressType", address_type)


def _crd(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    errors.causes.extend(validate_crd(obj, old))


def _role(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_role(errors, obj, namespaced=True)


def _clusterrole(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_role(errors, obj, namespaced=False)


def _rolebinding(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_binding(errors, obj, old, namespaced=True)


def _clusterrolebinding(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_binding(errors, obj, old, namespaced=False)


_BY_KIND: dict[tuple[str, str], Callable[[Errors, dict[str, Any], dict[str, Any] | None], None]] = {
    ("", "Pod"): _pod,
    ("storage.k8s.io", "VolumeAttachment"): validate_volume_attachment,
    ("certificates.k8s.io", "CertificateSigningRequest"): validate_csr,
    ("", "Service"): _service,
    ("", "ConfigMap"): _configmap,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "Node"): _node,
    ("", "Event"): _core_event,
    ("events.k8s.io", "Event"): _events_v1_event,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("coordination.k8s.io", "Lease"): _lease,
    ("discovery.k8s.io", "EndpointSlice"): _endpointslice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    (APIREGISTRATION_GROUP, "APIService"): validate_apiservice,
    ("batch", "Job"): validate_job,
    ("batch", "CronJob"): validate_cronjob,
    ("policy", "PodDisruptionBudget"): validate_pdb,
    ("networking.k8s.io", "NetworkPolicy"): validate_network_policy,
    ("autoscaling", "HorizontalPodAutoscaler"): validate_hpa,
    ("scheduling.k8s.io", "PriorityClass"): validate_priority_class,
    ("node.k8s.io", "RuntimeClass"): validate_runtime_class,
    ("", "ReplicationController"): _replicationcontroller,
    ("", "PodTemplate"): _podtemplate,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): validate_policy,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): validate_policy_binding,
    ("", "PersistentVolume"): validate_pv,
    ("", "PersistentVolumeClaim"): validate_pvc,
    ("storage.k8s.io", "StorageClass"): validate_storage_class,
    (RBAC_GROUP, "Role"): _role,
    (RBAC_GROUP, "ClusterRole"): _clusterrole,
    (RBAC_GROUP, "RoleBinding"): _rolebinding,
    (RBAC_GROUP, "ClusterRoleBinding"): _clusterrolebinding,
}


def validate(
    info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None = None, subresource: str = ""
) -> list[Cause]:
    """All validation causes for `obj` (create when `old` is None, else update; a pod's
    ``ephemeralcontainers`` subresource has its own update rules)."""
    errors = Errors()
    _metadata(errors, info, obj, old)
    if subresource == "ephemeralcontainers" and old is not None and (info.group, info.kind) == ("", "Pod"):
        validate_pod_spec(errors, obj.get("spec"), "spec")
        validate_ephemeral_update(errors, obj, old)
        return errors.causes
    rule = _BY_KIND.get((info.group, info.kind))
    if rule is not None:
        rule(errors, obj, old)
    return errors.causes


def describe(causes: list[Cause]) -> str:
    """`a: Required value, b: Invalid value: ...` as kubectl shows them."""
    return ", ".join(str(c) for c in causes) if causes else go_value("")
