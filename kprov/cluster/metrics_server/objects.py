"""metrics.k8s.io/v1beta1 objects (NodeMetrics, PodMetrics and their lists) from kubelets'
/stats/summary documents, as metrics-server writes them.

Design: pure functions of the summaries (``node name -> summary``) and of what was asked
(resource, namespace, name); :func:`answer` gives the HTTP status and body. Quantities as
metrics-server writes them: CPU in nanocores (``123456n``), memory (working set) in KiB
(``2048Ki``); ``window`` is the kubelet's CPU-rate sampling window.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["GROUP", "VERSION", "answer", "discovery_document", "node_metrics", "pod_metrics"]

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
_WINDOW = "10s"


def discovery_document() -> dict[str, Any]:
    """The APIResourceList of metrics.k8s.io/v1beta1 (as metrics-server's)."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{GROUP}/{VERSION}",
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
             "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
             "verbs": ["get", "list"]},
        ],
    }


def _cpu(nanocores: int) -> str:
    return f"{int(nanocores)}n"


def _memory(working_set: int) -> str:
    return f"{int(working_set) // 1024}Ki"


def _stamp(text: str | None) -> str:
    return text or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_metrics(name: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    node = doc.get("node") or {}
    cpu, memory = node.get("cpu") or {}, node.get("memory") or {}
    return {
        "metadata": {"name": name, "creationTimestamp": _stamp(None)},
        "timestamp": _stamp(cpu.get("time")),
        "window": _WINDOW,
        "usage": {
            "cpu": _cpu(cpu.get("usageNanoCores", 0)),
            "memory": _memory(memory.get("workingSetBytes", 0)),
        },
    }


def pod_metrics(pod: Mapping[str, Any]) -> dict[str, Any]:
    ref = pod.get("podRef") or {}
    containers = [
        {
            "name": c.get("name", ""),
            "usage": {
                "cpu": _cpu((c.get("cpu") or {}).get("usageNanoCores", 0)),
                "memory": _memory((c.get("memory") or {}).get("workingSetBytes", 0)),
            },
        }
        for c in pod.get("containers") or []
    ]
    return {
        "metadata": {"name": ref.get("name", ""), "namespace": ref.get("namespace", ""),
                     "creationTimestamp": _stamp(None)},
        "timestamp": _stamp((pod.get("cpu") or {}).get("time")),
        "window": _WINDOW,
        "containers": containers,
    }


def _not_found(resource: str, name: str) -> tuple[int, dict[str, Any]]:
    return 404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": f'{resource}.{GROUP} "{name}" not found', "reason": "NotFound",
                 "details": {"name": name, "group": GROUP, "kind": resource}, "code": 404}


def _ref(pod: Mapping[str, Any]) -> tuple[str, str]:
    ref = pod.get("podRef") or {}
    return str(ref.get("namespace", "")), str(ref.get("name", ""))


def answer(
    summaries: Mapping[str, Mapping[str, Any]],
    resource: str,
    namespace: str,
    name: str,
    existing_pods: Collection[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, Any]]:
    """(status, body) for a get (``name``) or list of ``resource`` (nodes or pods).
    ``existing_pods``: the (namespace, name) of the pods the API server listed (with the
    request's selectors); a pod a kubelet still reports but not listed is left out."""
    api_version = f"{GROUP}/{VERSION}"
    if resource == "nodes":
        items = [node_metrics(n, summaries[n]) for n in sorted(summaries) if not name or n == name]
        if name:
            return (200, {"kind": "NodeMetrics", "apiVersion": api_version, **items[0]}) if items else \
                _not_found("nodes", name)
        return 200, {"kind": "NodeMetricsList", "apiVersion": api_version, "metadata": {}, "items": items}
    pods = [
        pod_metrics(p) for doc in summaries.values() for p in doc.get("pods") or []
        if (not namespace or (p.get("podRef") or {}).get("namespace") == namespace)
        and (existing_pods is None or _ref(p) in existing_pods)
    ]
    pods.sort(key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
    if name:
        match = [p for p in pods if p["metadata"]["name"] == name]
        return (200, {"kind": "PodMetrics", "apiVersion": api_version, **match[0]}) if match else \
            _not_found("pods", name)
    return 200, {"kind": "PodMetricsList", "apiVersion": api_version, "metadata": {}, "items": pods}
