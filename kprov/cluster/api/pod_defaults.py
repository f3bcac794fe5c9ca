"""Pod defaults, as the real API server applies them: containers, probes, volumes, the pod
spec, the QoS class, and what admission plugins add to a bare Pod.

Design: each function sets a field only when it is absent. A Pod's spec defaults are a
function of the spec alone, and a controller's pods share their template's spec: the
defaulted spec is remembered by the spec's JSON (a few hundred distinct specs), so a
ReplicaSet's hundred creates walk it once; the others decode the remembered JSON (two C
calls instead of some fifty Python ones). Pod templates get only the spec's own defaults
(:func:`default_pod_spec`), not the admission plugins'.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from kprov.cluster.api.objects import parse_quantity

__all__ = [
    "default_container",
    "default_pod",
    "default_pod_spec",
    "image_pull_policy",
    "pod_qos_class",
    "set_default",
    "spec_json",
]


def set_default(obj: dict[str, Any], key: str, value: Any) -> Any:
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
        set_default(probe, key, value)
    if isinstance(probe.get("httpGet"), dict):
        set_default(probe["httpGet"], "scheme", "HTTP")
        set_default(probe["httpGet"], "path", "/")


def _default_env(env: list[Any]) -> None:
    for var in env:
        field_ref = (var.get("valueFrom") or {}).get("fieldRef") if isinstance(var, dict) else None
        if isinstance(field_ref, dict):
            set_default(field_ref, "apiVersion", "v1")


def default_container(container: dict[str, Any]) -> None:
    set_default(container, "terminationMessagePath", "/dev/termination-log")
    set_default(container, "terminationMessagePolicy", "File")
    set_default(container, "imagePullPolicy", image_pull_policy(str(container.get("image", ""))))
    set_default(container, "resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            set_default(port, "protocol", "TCP")
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
            set_default(volume[source], mode_key, 420)
    if isinstance(volume.get("hostPath"), dict):
        set_default(volume["hostPath"], "type", "")
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
    set_default(spec, "restartPolicy", "Always")
    set_default(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "terminationGracePeriodSeconds", 30)
    set_default(spec, "schedulerName", "default-scheduler")
    set_default(spec, "securityContext", {})
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


def _host_network_ports(spec: dict[str, Any]) -> None:
    """A host-network Pod's (not a template's, since v1.28) container ports are host ports:
    an unset hostPort is the containerPort, so the scheduler's NodePorts sees them."""
    if spec.get("hostNetwork") is not True:
        return
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            for port in (container.get("ports") or []) if isinstance(container, dict) else []:
                if isinstance(port, dict) and not port.get("hostPort") and port.get("containerPort"):
                    port["hostPort"] = port["containerPort"]


def _pod_spec(spec: dict[str, Any]) -> None:
    default_pod_spec(spec)
    _host_network_ports(spec)
    grace = spec.get("terminationGracePeriodSeconds")
    if type(grace) is int and grace < 0:  # a Pod's (not a template's): upstream stores 1
        spec["terminationGracePeriodSeconds"] = 1
    _requests_from_limits(spec)
    # what admission plugins add (Priority, DefaultTolerationSeconds); the ServiceAccount
    # plugin names the account itself (admission/serviceaccount.py), and leaves mirror pods
    # and servers that run without it with none, as upstream's
    set_default(spec, "priority", 0)
    set_default(spec, "preemptionPolicy", "PreemptLowerPriority")
    set_default(spec, "enableServiceLinks", True)
    tolerations = set_default(spec, "tolerations", [])
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


def default_pod(obj: dict[str, Any]) -> None:
    spec = set_default(obj, "spec", {})
    key = spec_json(spec)
    if key is not None:
        defaulted, qos = _defaulted_pod_spec(key)
        obj["spec"] = orjson.loads(defaulted)
    else:
        _pod_spec(spec)
        qos = pod_qos_class(spec)
    status = set_default(obj, "status", {})
    set_default(status, "phase", "Pending")
    set_default(status, "qosClass", qos)
