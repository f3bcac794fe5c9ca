"""Server-side defaults, as the real API server applies them on create and update.

Design: one function per kind (or shared part: pod spec, container, probe), applied in place,
each setting a field only when it is absent. `apply_defaults(info, obj)` dispatches by kind.
Defaults that real admission plugins add to Pods (service account, priority, default
tolerations) and the fields a Pod's create strategy fills (status.phase, qosClass) are
applied for bare Pods only, not for pod templates.

Pods' own defaults (containers, probes, volumes, QoS, the remembered defaulted specs) are in
:mod:`kprov.cluster.api.pod_defaults`; their public names are exported here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprov.cluster.api.crd.definition import default_crd
from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.kinds import beta_conversion
from kprov.cluster.api.kinds.apiregistration import default_apiservice
from kprov.cluster.api.pod_defaults import (
    default_container,
    default_pod,
    default_pod_spec,
    image_pull_policy,
    pod_qos_class,
    set_default,
    spec_json,
)
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.validation.rbac_kinds import default_binding
from kprov.cluster.api.wire.go_base64 import GoBase64Error, byte_fields_of, canonical_base64

__all__ = [
    "apply_defaults",
    "default_container",
    "default_hpa_v2",
    "default_pod_spec",
    "hpa_scale_down_rules",
    "hpa_scale_up_rules",
    "image_pull_policy",
    "pod_qos_class",
    "spec_json",
]




def _template(obj: dict[str, Any]) -> None:
    template = set_default(set_default(obj, "spec", {}), "template", {})
    default_pod_spec(set_default(template, "spec", {}))


def _deployment(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "replicas", 1)
    strategy = set_default(spec, "strategy", {})
    set_default(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = set_default(strategy, "rollingUpdate", {})
        set_default(rolling, "maxUnavailable", "25%")
        set_default(rolling, "maxSurge", "25%")
    set_default(spec, "revisionHistoryLimit", 10)
    set_default(spec, "progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: dict[str, Any]) -> None:
    set_default(set_default(obj, "spec", {}), "replicas", 1)
    _template(obj)


def _statefulset(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "replicas", 1)
    set_default(spec, "podManagementPolicy", "OrderedReady")
    strategy = set_default(spec, "updateStrategy", {})
    set_default(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        set_default(set_default(strategy, "rollingUpdate", {}), "partition", 0)
    set_default(spec, "revisionHistoryLimit", 10)
    retention = set_default(spec, "persistentVolumeClaimRetentionPolicy", {})
    set_default(retention, "whenDeleted", "Retain")
    set_default(retention, "whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _pvc(claim)
    _template(obj)


def _daemonset(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    strategy = set_default(spec, "updateStrategy", {})
    set_default(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = set_default(strategy, "rollingUpdate", {})
        set_default(rolling, "maxUnavailable", 1)
        set_default(rolling, "maxSurge", 0)
    set_default(spec, "revisionHistoryLimit", 10)
    _template(obj)


def _cronjob(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "concurrencyPolicy", "Allow")
    set_default(spec, "suspend", False)
    set_default(spec, "successfulJobsHistoryLimit", 3)
    set_default(spec, "failedJobsHistoryLimit", 1)
    job_spec = set_default(set_default(spec, "jobTemplate", {}), "spec", {})
    default_pod_spec(set_default(set_default(job_spec, "template", {}), "spec", {}))


def _pv(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "persistentVolumeReclaimPolicy", "Retain")
    set_default(spec, "volumeMode", "Filesystem")
    set_default(set_default(obj, "status", {}), "phase", "Pending")


def _pvc(obj: dict[str, Any]) -> None:
    set_default(set_default(obj, "spec", {}), "volumeMode", "Filesystem")
    set_default(set_default(obj, "status", {}), "phase", "Pending")


def _storageclass(obj: dict[str, Any]) -> None:
    set_default(obj, "reclaimPolicy", "Delete")
    set_default(obj, "volumeBindingMode", "Immediate")


def _csidriver(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "attachRequired", True)
    set_default(spec, "podInfoOnMount", False)
    set_default(spec, "storageCapacity", False)
    set_default(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    set_default(spec, "requiresRepublish", False)
    set_default(spec, "seLinuxMount", False)
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _priorityclass(obj: dict[str, Any]) -> None:
    set_default(obj, "preemptionPolicy", "PreemptLowerPriority")


def _replicationcontroller(obj: dict[str, Any]) -> None:
    """Selector and the RC's own labels default to the template's labels (upstream)."""
    spec = set_default(obj, "spec", {})
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = set_default(obj, "metadata", {})
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    set_default(spec, "replicas", 1)
    if isinstance(spec.get("template"), dict):
        default_pod_spec(set_default(spec["template"], "spec", {}))


def _hpa(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    set_default(spec, "minReplicas", 1)
    if obj.get("apiVersion") == "autoscaling/v2":
        default_hpa_v2(spec)


def hpa_scale_up_rules() -> dict[str, Any]:
    """autoscaling/v2's default scaleUp rules: the larger of +4 pods and +100 % per 15 s, no window."""
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def hpa_scale_down_rules() -> dict[str, Any]:
    """autoscaling/v2's default scaleDown rules: -100 % per 15 s; the window is left unset (the
    controller manager's --horizontal-pod-autoscaler-downscale-stabilization applies)."""
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_hpa_v2(spec: dict[str, Any]) -> None:
    """upstream's v2 SetDefaults: an 80 % CPU target when no metric is named; a behavior's
    missing rules (and a rule's missing fields) from the defaults above."""
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if not isinstance(behavior, dict):
        return
    for direction, rules in (("scaleUp", hpa_scale_up_rules()), ("scaleDown", hpa_scale_down_rules())):
        given = behavior.get(direction)
        if isinstance(given, dict):
            for key in ("selectPolicy", "stabilizationWindowSeconds", "policies"):
                if given.get(key) is not None:
                    rules[key] = given[key]
        behavior[direction] = rules


def _podtemplate(obj: dict[str, Any]) -> None:
    default_pod_spec(set_default(set_default(obj, "template", {}), "spec", {}))


_JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def _job_selector(obj: dict[str, Any]) -> None:
    """Upstream's generated selector: the template gets the job-name and controller-uid
    labels (legacy and batch.kubernetes.io/ forms); the selector matches the uid."""
    meta = obj.get("metadata") or {}
    spec = obj["spec"]
    if spec.get("manualSelector") is True or not meta.get("uid"):
        return
    labels = set_default(set_default(set_default(spec, "template", {}), "metadata", {}), "labels", {})
    for label in _JOB_NAME_LABELS:
        labels.setdefault(label, meta.get("name", ""))
    for label in _JOB_UID_LABELS:
        labels.setdefault(label, meta["uid"])
    match = set_default(set_default(spec, "selector", {}), "matchLabels", {})
    match.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])


def _job(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    set_default(spec, "parallelism", 1)
    set_default(spec, "backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    set_default(spec, "completionMode", "NonIndexed")
    set_default(spec, "suspend", False)
    replacement = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    set_default(spec, "podReplacementPolicy", replacement)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule or {}).get("onPodConditions") or []:
            if isinstance(pattern, dict):
                set_default(pattern, "status", "True")
    _job_selector(obj)
    _template(obj)


def _service(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    service_type = set_default(spec, "type", "ClusterIP")
    set_default(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            set_default(port, "protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if service_type != "ExternalName":
        set_default(spec, "internalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer"):
        set_default(spec, "externalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        set_default(spec, "allocateLoadBalancerNodePorts", True)
    set_default(obj, "status", {}).setdefault("loadBalancer", {})


def _namespace(obj: dict[str, Any]) -> None:
    set_default(set_default(obj, "spec", {}), "finalizers", ["kubernetes"])
    set_default(set_default(obj, "status", {}), "phase", "Active")
    metadata = set_default(obj, "metadata", {})
    if metadata.get("name"):
        set_default(metadata, "labels", {})["kubernetes.io/metadata.name"] = metadata["name"]


def _secret(obj: dict[str, Any]) -> None:
    set_default(obj, "type", "Opaque")
    _byte_maps(obj, "Secret")


def _configmap(obj: dict[str, Any]) -> None:
    _byte_maps(obj, "ConfigMap")


def _byte_maps(obj: dict[str, Any], kind: str) -> None:
    """The kind's ``map[string][]byte`` values as kube stores them once decoded: base64
    wrapped over lines is taken (Go skips CR/LF) and kept on one line; a value Go cannot
    decode is the decoder's 400."""
    for section in byte_fields_of("", kind):
        values = obj.get(section)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, str):
                try:
                    values[key] = canonical_base64(value)
                except GoBase64Error as exc:
                    raise ApiError(
                        f'{kind} in version "v1" cannot be handled as a {kind}: {exc}', 400, "BadRequest"
                    ) from None


def _event(obj: dict[str, Any]) -> None:
    set_default(obj, "involvedObject", {})
    set_default(obj, "source", {})
    set_default(obj, "reportingComponent", "")
    set_default(obj, "reportingInstance", "")


def _endpoints(obj: dict[str, Any]) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                set_default(port, "protocol", "TCP")


def _endpointslice(obj: dict[str, Any]) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            set_default(port, "protocol", "TCP")
    for endpoint in obj.get("endpoints") or []:
        if isinstance(endpoint, dict):
            set_default(endpoint, "conditions", {})


def _node(obj: dict[str, Any]) -> None:
    set_default(obj, "spec", {})


def _webhooks(obj: dict[str, Any], mutating: bool) -> None:
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def _mutating_webhooks(obj: dict[str, Any]) -> None:
    _webhooks(obj, True)


def _validating_webhooks(obj: dict[str, Any]) -> None:
    _webhooks(obj, False)


def _match_resources(match: Any) -> None:
    if not isinstance(match, dict):
        return
    match.setdefault("matchPolicy", "Equivalent")
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    for name in ("resourceRules", "excludeResourceRules"):
        for rule in match.get(name) or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def _validating_admission_policy(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("failurePolicy", "Fail")
        _match_resources(spec.get("matchConstraints"))


def _validating_admission_policy_binding(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _match_resources(spec.get("matchResources"))
    param_ref = spec.get("paramRef")
    if isinstance(param_ref, dict):
        param_ref.setdefault("parameterNotFoundAction", "Deny")


def _flow_schema(obj: dict[str, Any]) -> None:
    """matchingPrecedence 0 means the default, 1000 (flowcontrol/v1 defaulting)."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def _priority_level(obj: dict[str, Any]) -> None:
    """Limited levels: 30 shares, 0% lendable, queuing 64 queues, hand 8, length 50;
    exempt levels: 0 shares, 0% lendable (flowcontrol/v1 defaulting)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    limited, exempt = spec.get("limited"), spec.get("exempt")
    if isinstance(exempt, dict):
        exempt.setdefault("nominalConcurrencyShares", 0)
        exempt.setdefault("lendablePercent", 0)
    if not isinstance(limited, dict):
        return
    if limited.get("nominalConcurrencyShares") is None:
        limited["nominalConcurrencyShares"] = 30
    limited.setdefault("lendablePercent", 0)
    queuing = (limited.get("limitResponse") or {}).get("queuing")
    if isinstance(queuing, dict):
        for field, value in (("queues", 64), ("handSize", 8), ("queueLengthLimit", 50)):
            if not queuing.get(field):
                queuing[field] = value


def _network_policy(obj: dict[str, Any]) -> None:
    """Ports default to TCP; policyTypes, when absent, are Ingress plus Egress if egress rules exist."""
    spec = set_default(obj, "spec", {})
    set_default(spec, "podSelector", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    set_default(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


_BY_KIND: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("", "Pod"): default_pod,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("", "Secret"): _secret,
    ("", "ConfigMap"): _configmap,
    ("", "Event"): _event,
    ("", "Endpoints"): _endpoints,
    ("", "Node"): _node,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("discovery.k8s.io", "EndpointSlice"): _endpointslice,
    ("rbac.authorization.k8s.io", "RoleBinding"): default_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): default_binding,
    ("apiregistration.k8s.io", "APIService"): default_apiservice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): default_crd,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _mutating_webhooks,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _validating_webhooks,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): _validating_admission_policy,
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ): _validating_admission_policy_binding,
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): _flow_schema,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): _priority_level,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("scheduling.k8s.io", "PriorityClass"): _priorityclass,
    ("", "ReplicationController"): _replicationcontroller,
    ("", "PodTemplate"): _podtemplate,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("", "PersistentVolume"): _pv,
    ("", "PersistentVolumeClaim"): _pvc,
    ("storage.k8s.io", "StorageClass"): _storageclass,
    ("storage.k8s.io", "CSIDriver"): _csidriver,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
}


# Defaulting a version does before its kind's (the kind's is v1's): v1beta3's shares
_BY_VERSION: dict[tuple[str, str, str], Callable[[dict[str, Any]], None]] = {
    ("flowcontrol.apiserver.k8s.io", "v1beta3", "PriorityLevelConfiguration"): (
        beta_conversion.default_v1beta3_priority_level
    ),
}


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Fill the server-side defaults of `info`'s kind into `obj`, in place."""
    versioned = _BY_VERSION.get((info.group, info.version, info.kind))
    if versioned is not None:
        versioned(obj)
    handler = _BY_KIND.get((info.group, info.kind))
    if handler is not None:
        handler(obj)
