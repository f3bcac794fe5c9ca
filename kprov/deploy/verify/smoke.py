"""The smoke workload verify deploys: 2 HTTP pods on different workers behind a NodePort Service.

Pure object builders (tested without a cluster) plus the expected answers: every pod
serves its own hostname, so repeated requests through the Service prove each backend
answers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SMOKE_IMAGE", "SMOKE_PORT", "smoke_deployment", "smoke_namespace", "smoke_service"]

SMOKE_IMAGE = "kprov.local/busybox:1"
SMOKE_PORT = 8080
_LABELS = {"app": "kprov-verify"}
_SERVE = f"mkdir -p /www && hostname > /www/index.html && exec httpd -f -p {SMOKE_PORT} -h /www"


def smoke_namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def smoke_deployment(namespace: str, workers: list[str], replicas: int = 2) -> dict[str, Any]:
    """``replicas`` httpd pods, one per worker (required anti-affinity), only on ``workers``."""
    pod_spec: dict[str, Any] = {
        "containers": [{
            "name": "httpd",
            "image": SMOKE_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", _SERVE],
            "ports": [{"containerPort": SMOKE_PORT}],
            "readinessProbe": {"tcpSocket": {"port": SMOKE_PORT}, "periodSeconds": 1},
        }],
        "terminationGracePeriodSeconds": 1,
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": workers}]}
            ]}},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": dict(_LABELS)}, "topologyKey": "kubernetes.io/hostname"}
            ]},
        },
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kprov-verify", "namespace": namespace, "labels": dict(_LABELS)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(_LABELS)},
            "template": {"metadata": {"labels": dict(_LABELS)}, "spec": pod_spec},
        },
    }


def smoke_service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kprov-verify", "namespace": namespace},
        "spec": {"type": "NodePort", "selector": dict(_LABELS),
                 "ports": [{"port": 80, "targetPort": SMOKE_PORT, "protocol": "TCP"}]},
    }
