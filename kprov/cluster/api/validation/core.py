"""Validation of objects on create and update, worded like the real API server (422 causes).

Design: `validate(info, obj, old)` checks metadata (names, labels, annotations,
immutable identity on update) and then the kind's own rules (one small function per kind;
pod specs live in _validation_pod). It returns `Cause`s; the server wraps a non-empty list
in `InvalidError`. Validation runs after defaults, as the real server does.
"""

from __future__ import annotations

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
from kprov.cluster.api.validation.admission_policy import validate_policy, validate_policy_binding
from kprov.cluster.api.validation.autoscaling import validate_hpa
from kprov.cluster.api.validation.batch import validate_cronjob, validate_job
from kprov.cluster.api.validation.certificates import validate_csr, validate_csr_subresource_update
from kprov.cluster.api.validation.ephemeral import validate_ephemeral_create, validate_ephemeral_update
from kprov.cluster.api.validation.field_errors import Errors, go_value
from kprov.cluster.api.validation.labels import validate_labels
from kprov.cluster.api.validation.names import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    qualified_name_errors,
)
from kprov.cluster.api.validation.networking import validate_network_policy
from kprov.cluster.api.validation.node import validate_runtime_class
from kprov.cluster.api.validation.pod import port_name_errors, validate_pod_spec, validate_pod_update
from kprov.cluster.api.validation.pod_ips import validate_pod_cidrs, validate_pod_ips
from kprov.cluster.api.validation.policy import validate_pdb, validate_priority_class
from kprov.cluster.api.validation.rbac_kinds import (
    RBAC_GROUP,
    path_segment_errors,
    validate_binding,
    validate_role,
)
from kprov.cluster.api.validation.storage import (
    validate_pv,
    validate_pvc,
    validate_storage_class,
    validate_volume_attachment,
)
from kprov.cluster.api.validation.webhook_configurations import validate_webhook_configuration
from kprov.cluster.api.validation.workloads import (
    validate_daemonset,
    validate_deployment,
    validate_podtemplate,
    validate_replicaset,
    validate_replicationcontroller,
    validate_statefulset,
)
from kprov.cluster.api.wire.go_base64 import go_std_decode

__all__ = ["Cause", "validate"]

_DNS_LABEL_NAMES = {("", "Namespace"), ("", "Service")}
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_TOTAL_ANNOTATIONS = 256 * 1024
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")


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
    validate_labels(errors, meta.get("labels"), "metadata.labels")
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


def _pod(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    validate_pod_spec(errors, obj.get("spec"), "spec")
    validate_pod_ips(errors, obj.get("status"))
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
        # (a lone clusterIP counts: upstream's strategy fills clusterIPs from it first)
        addresses = {"clusterIPs": spec.get("clusterIPs") or spec.get("clusterIP"),
                     "ipFamilies": spec.get("ipFamilies"), "ipFamilyPolicy": spec.get("ipFamilyPolicy")}
        for field, value in addresses.items():
            if value:
                errors.forbidden(f"spec.{field}", "may not be set for ExternalName services")
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
    validate_labels(errors, spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errors.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))


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
    validate_pod_cidrs(errors, obj.get("spec"), (old or {}).get("spec") if old is not None else None)


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
    ("apps", "Deployment"): validate_deployment,
    ("apps", "ReplicaSet"): validate_replicaset,
    ("apps", "StatefulSet"): validate_statefulset,
    ("apps", "DaemonSet"): validate_daemonset,
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
    ("", "ReplicationController"): validate_replicationcontroller,
    ("", "PodTemplate"): validate_podtemplate,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): validate_policy,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): validate_policy_binding,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): validate_webhook_configuration,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): validate_webhook_configuration,
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
    if subresource in ("approval", "status") and old is not None and rule is validate_csr:
        validate_csr_subresource_update(errors, obj, old, subresource)
    return errors.causes


def describe(causes: list[Cause]) -> str:
    """`a: Required value, b: Invalid value: ...` as kubectl shows them."""
    return ", ".join(str(c) for c in causes) if causes else go_value("")
