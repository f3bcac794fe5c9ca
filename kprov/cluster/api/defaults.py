"""Server-side defaults, as the real API server applies them on create and update.

Design: one function per kind (or shared part: pod spec, container, probe), applied in place,
each setting a field only when it is absent. `apply_defaults(info, obj)` dispatches by kind.
Defaults that real admission plugins add to Pods (service account, priority, default
tolerations) and the fields a Pod's create strategy fills (status.phase, qosClass) are
applied for bare Pods only, not for pod templates.

A Pod's spec defaults are a function of the spec alone, and a controller's pods share their
template's spec: the defaulted spec is remembered by the spec's JSON (a few hundred distinct
specs), so a ReplicaSet's hundred creates walk it once; the others decode the remembered
JSON (two C calls instead of some fifty Python ones).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson

from kprov.cluster.api.crd.definition import default_crd
from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.kinds.apiregistration import default_apiservice
from kprov.cluster.api.objects import parse_quantity
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
]


def _set(obj: dict[str, Any], key: str, value: Any) -> Any:
    if obj.get(key) is None:
        obj[key] = value
    return obj[key]


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or no tag (and no digest), IfNotPresent otherwise."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: dict[str, Any] | None) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        _set(probe, key, value)
    if isinstance(probe.get("httpGet"), dict):
        _set(probe["httpGet"], "scheme", "HTTP")
        _set(probe["httpGet"], "path", "/")


def _default_env(env: list[Any]) -> None:
    for var in env:
        field_ref = (var.get("valueFrom") or {}).get("fieldRef") if isinstance(var, dict) else None
        if isinstance(field_ref, dict):
            _set(field_ref, "apiVersion", "v1")


def default_container(container: dict[str, Any]) -> None:
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    _set(container, "imagePullPolicy", image_pull_policy(str(container.get("image", ""))))
    _set(container, "resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
    _default_env(container.get("env") or [])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))


def _default_volume(volume: dict[str, Any]) -> None:
    for source, mode_key in (
        ("configMap", "defaultMode"),
        ("secret", "defaultMode"),
        ("projected", "defaultMode"),
        ("downwardAPI", "defaultMode"),
    ):
        if isinstance(volume.get(source), dict):
            _set(volume[source], mode_key, 420)
    if isinstance(volume.get("hostPath"), dict):
        _set(volume["hostPath"], "type", "")
    known = {
        "name",
        "emptyDir",
        "hostPath",
        "configMap",
        "secret",
        "projected",
        "downwardAPI",
        "persistentVolumeClaim",
        "nfs",
        "csi",
        "ephemeral",
        "image",
    }
    if not (set(volume) - {"name"}) & known:
        volume["emptyDir"] = {}


def default_pod_spec(spec: dict[str, Any]) -> None:
    """Defaults shared by Pods and pod templates."""
    _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "terminationGracePeriodSeconds", 30)
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "securityContext", {})
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                default_container(container)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            _default_volume(volume)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def pod_qos_class(spec: dict[str, Any]) -> str:
    """BestEffort / Burstable / Guaranteed from the containers' requests and limits."""
    containers = [
        c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)
    ]
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        if requests or limits:
            any_set = True
        if set(limits) != {"cpu", "memory"}:
            guaranteed = False
            continue
        for name, limit in limits.items():
            request = requests.get(name, limit)
            try:
                if parse_quantity(request) != parse_quantity(limit):
                    guaranteed = False
            except ValueError:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


_NOT_READY_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def _requests_from_limits(spec: dict[str, Any]) -> None:
    """A Pod's container (not a template's) that sets a limit but no request for a resource
    requests what it limits, as upstream's Pod defaulting does."""
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            resources = container.get("resources") if isinstance(container, dict) else None
            if not isinstance(resources, dict):
                continue
            limits = resources.get("limits")
            if not isinstance(limits, dict) or not limits:
                continue
            requests = resources.get("requests")
            if not isinstance(requests, dict):
                requests = resources["requests"] = {}
            for name, value in limits.items():
                requests.setdefault(name, value)


def _pod_spec(spec: dict[str, Any]) -> None:
    default_pod_spec(spec)
    _requests_from_limits(spec)
    # what admission plugins add (ServiceAccount, Priority, DefaultTolerationSeconds)
    _set(spec, "serviceAccountName", "default")
    _set(spec, "serviceAccount", spec["serviceAccountName"])
    _set(spec, "priority", 0)
    _set(spec, "preemptionPolicy", "PreemptLowerPriority")
    _set(spec, "enableServiceLinks", True)
    tolerations = _set(spec, "tolerations", [])
    for toleration in _NOT_READY_TOLERATIONS:
        if not any(
            t.get("key") == toleration["key"] and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
            if isinstance(t, dict)
        ):
            tolerations.append(dict(toleration))


_MEMO_MAX_SPEC_BYTES = 64 * 1024  # larger specs are defaulted every time


def spec_json(spec: Any) -> bytes | None:
    """A spec's JSON as the key of a memo, or None if it cannot be one (not an object, not
    plain JSON, or too big)."""
    if not isinstance(spec, dict):
        return None
    try:
        data = orjson.dumps(spec)
    except TypeError:
        return None
    return data if len(data) <= _MEMO_MAX_SPEC_BYTES else None


@functools.lru_cache(maxsize=256)
def _defaulted_pod_spec(key: bytes) -> tuple[bytes, str]:
    """(the defaulted spec's JSON, its QoS class) for the spec whose JSON is ``key``."""
    spec = orjson.loads(key)
    _pod_spec(spec)
    return orjson.dumps(spec), pod_qos_class(spec)


def _pod(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    key = spec_json(spec)
    if key is not None:
        defaulted, qos = _defaulted_pod_spec(key)
        obj["spec"] = orjson.loads(defaulted)
    else:
        _pod_spec(spec)
        qos = pod_qos_class(spec)
    status = _set(obj, "status", {})
    _set(status, "phase", "Pending")
    _set(status, "qosClass", qos)


def _template(obj: dict[str, Any]) -> None:
    template = _set(_set(obj, "spec", {}), "template", {})
    default_pod_spec(_set(template, "spec", {}))


def _deployment(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "replicas", 1)
    strategy = _set(spec, "strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _set(strategy, "rollingUpdate", {})
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: dict[str, Any]) -> None:
    _set(_set(obj, "spec", {}), "replicas", 1)
    _template(obj)


def _statefulset(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "replicas", 1)
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = _set(spec, "updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _set(_set(strategy, "rollingUpdate", {}), "partition", 0)
    _set(spec, "revisionHistoryLimit", 10)
    retention = _set(spec, "persistentVolumeClaimRetentionPolicy", {})
    _set(retention, "whenDeleted", "Retain")
    _set(retention, "whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _pvc(claim)
    _template(obj)


def _daemonset(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    strategy = _set(spec, "updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _set(strategy, "rollingUpdate", {})
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _template(obj)


def _cronjob(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    job_spec = _set(_set(spec, "jobTemplate", {}), "spec", {})
    default_pod_spec(_set(_set(job_spec, "template", {}), "spec", {}))


def _pv(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "persistentVolumeReclaimPolicy", "Retain")
    _set(spec, "volumeMode", "Filesystem")
    _set(_set(obj, "status", {}), "phase", "Pending")


def _pvc(obj: dict[str, Any]) -> None:
    _set(_set(obj, "spec", {}), "volumeMode", "Filesystem")
    _set(_set(obj, "status", {}), "phase", "Pending")


def _storageclass(obj: dict[str, Any]) -> None:
    _set(obj, "reclaimPolicy", "Delete")
    _set(obj, "volumeBindingMode", "Immediate")


def _csidriver(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "attachRequired", True)
    _set(spec, "podInfoOnMount", False)
    _set(spec, "storageCapacity", False)
    _set(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    _set(spec, "requiresRepublish", False)
    _set(spec, "seLinuxMount", False)
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _priorityclass(obj: dict[str, Any]) -> None:
    _set(obj, "preemptionPolicy", "PreemptLowerPriority")


def _replicationcontroller(obj: dict[str, Any]) -> None:
    """Selector and the RC's own labels default to the template's labels (upstream)."""
    spec = _set(obj, "spec", {})
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = _set(obj, "metadata", {})
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    _set(spec, "replicas", 1)
    if isinstance(spec.get("template"), dict):
        default_pod_spec(_set(spec["template"], "spec", {}))


def _hpa(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    _set(spec, "minReplicas", 1)
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
    default_pod_spec(_set(_set(obj, "template", {}), "spec", {}))


_JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def _job_selector(obj: dict[str, Any]) -> None:
    """Upstream's generated selector: the template gets the job-name and controller-uid
    labels (legacy and batch.kubernetes.io/ forms); the selector matches the uid."""
    meta = obj.get("metadata") or {}
    spec = obj["spec"]
    if spec.get("manualSelector") is True or not meta.get("uid"):
        return
    labels = _set(_set(_set(spec, "template", {}), "metadata", {}), "labels", {})
    for label in _JOB_NAME_LABELS:
        labels.setdefault(label, meta.get("name", ""))
    for label in _JOB_UID_LABELS:
        labels.setdefault(label, meta["uid"])
    match = _set(_set(spec, "selector", {}), "matchLabels", {})
    match.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])


def _job(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule or {}).get("onPodConditions") or []:
            if isinstance(pattern, dict):
                _set(pattern, "status", "True")
    _job_selector(obj)
    _template(obj)


def _service(obj: dict[str, Any]) -> None:
    spec = _set(obj, "spec", {})
    service_type = _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if service_type != "ExternalName":
        _set(spec, "internalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        _set(spec, "allocateLoadBalancerNodePorts", True)
    _set(obj, "status", {}).setdefault("loadBalancer", {})


def _namespace(obj: dict[str, Any]) -> None:
    _set(_set(obj, "spec", {}), "finalizers", ["kubernetes"])
    _set(_set(obj, "status", {}), "phase", "Active")
    metadata = _set(obj, "metadata", {})
    if metadata.get("name"):
        _set(metadata, "labels", {})["kubernetes.io/metadata.name"] = metadata["name"]


def _secret(obj: dict[str, Any]) -> None:
    _set(obj, "type", "Opaque")
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
    _set(obj, "involvedObject", {})
    _set(obj, "source", {})
    _set(obj, "reportingComponent", "")
    _set(obj, "reportingInstance", "")


def _endpoints(obj: dict[str, Any]) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                _set(port, "protocol", "TCP")


def _endpointslice(obj: dict[str, Any]) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
    for endpoint in obj.get("endpoints") or []:
        if isinstance(endpoint, dict):
            _set(endpoint, "conditions", {})


def _node(obj: dict[str, Any]) -> None:
    _set(obj, "spec", {})


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
    spec = _set(obj, "spec", {})
    _set(spec, "podSelector", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    _set(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


_BY_KIND: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("", "Pod"): _pod,
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


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Fill the server-side defaults of `info`'s kind into `obj`, in place."""
    handler = _BY_KIND.get((info.group, info.kind))
    if handler is not None:
        handler(obj)
