"""Pod networking and Services on two real nodes: kubelet + containerd + CNI + kprov-proxy.

One Deployment of three busybox httpd pods spread over h3 and h4 (each answers with its
pod name), a NodePort Service in front of it. Everything goes through stock kubectl, the
lab hosts' own curl, and plain sockets from this machine.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml

from tests.e2e.kubelet.cluster import BUSYBOX
from tests.e2e.network.cluster import NetworkCluster
from tests.e2e.network.conftest import NODES

pytestmark = pytest.mark.lab

NS = "net-e2e"
APP = "web"
REQUESTS = 30
SERVER = (
    "mkdir -p /www && hostname > /www/index.html && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"
)


def _manifests() -> list[dict[str, Any]]:
    labels = {"app": APP}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": NS},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": labels},
                        }
                    ],
                    "containers": [
                        {
                            "name": "httpd",
                            "image": BUSYBOX,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", SERVER],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": 8080},
                                "periodSeconds": 1,
                                "failureThreshold": 1,
                            },
                        }
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP, "namespace": NS},
        "spec": {
            "type": "NodePort",
            "selector": labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, deployment, service]


def _json(cluster: NetworkCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def _ready_pods(cluster: NetworkCluster) -> list[dict[str, Any]]:
    pods = _json(cluster, "get", "pods", "-n", NS, "-l", f"app={APP}")["items"]
    return [
        p
        for p in pods
        if p.get("status", {}).get("podIP")
        and not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


def _ready_endpoint_ips(cluster: NetworkCluster) -> set[str]:
    slices = _json(cluster, "get", "endpointslices", "-n", NS, "-l", f"kubernetes.io/service-name={APP}")
    return {
        ep["addresses"][0]
        for s in slices["items"]
        for ep in s.get("endpoints") or []
        if (ep.get("conditions") or {}).get("ready", True)
    }


def _usable_endpoint_ips(cluster: NetworkCluster) -> set[str]:
    """The endpoints kube-proxy may send to: ready ones, or ones still serving while they
    terminate (upstream's fallback when none is ready; ``serving`` absent means ``ready``)."""
    slices = _json(cluster, "get", "endpointslices", "-n", NS, "-l", f"kubernetes.io/service-name={APP}")
    usable = set()
    for s in slices["items"]:
        for ep in s.get("endpoints") or []:
            conditions = ep.get("conditions") or {}
            ready = conditions.get("ready", True)
            if ready or conditions.get("serving", ready):
                usable.add(ep["addresses"][0])
    return usable


def _wait(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def web(network_cluster: NetworkCluster) -> dict[str, Any]:
    cluster = network_cluster
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(_manifests()))
    pods = _wait("3 ready pods", lambda: (p := _ready_pods(cluster)) and len(p) == 3 and p, timeout=180)
    _wait("3 ready endpoints", lambda: len(_ready_endpoint_ips(cluster)) == 3)
    service = _json(cluster, "get", "service", APP, "-n", NS)
    return {"pods": pods, "service": service}


def _names_from_node(cluster: NetworkCluster, host: str, url: str, count: int = REQUESTS) -> list[str]:
    _, out, _ = cluster.ssh(
        host, f"for i in $(seq {count}); do curl -s -m 5 {url} || echo FAILED; done", timeout=120
    )
    return out.split()


def _names_from_pod(cluster: NetworkCluster, pod: str, url: str, count: int = REQUESTS) -> list[str]:
    # busybox-static's wget crashes with its own -T timeout: bound it with timeout(1) instead.
    script = f"for i in $(seq {count}); do timeout 5 wget -q -O - {url} || echo FAILED; done"
    out = cluster.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", script, timeout=120).stdout
    return out.split()


def test_pods_are_spread_and_reach_each_other_across_nodes(
    network_cluster: NetworkCluster, web: dict[str, Any]
) -> None:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in web["pods"]:
        by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)
    assert set(by_node) == set(NODES), by_node.keys()
    source, target = by_node[NODES[0]][0], by_node[NODES[1]][0]
    answer = _names_from_pod(
        network_cluster, source["metadata"]["name"], f"http://{target['status']['podIP']}:8080/", count=1
    )
    assert answer == [target["metadata"]["name"]]


def test_cluster_ip_from_a_pod_and_from_a_node_reaches_every_backend(
    network_cluster: NetworkCluster, web: dict[str, Any]
) -> None:
    names = {p["metadata"]["name"] for p in web["pods"]}
    url = f"http://{web['service']['spec']['clusterIP']}:80/"
    from_pod = _names_from_pod(network_cluster, web["pods"][0]["metadata"]["name"], url)
    assert set(from_pod) == names, from_pod
    for host in NODES:
        from_node = _names_from_node(network_cluster, host, url)
        assert set(from_node) == names, (host, from_node)


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read().decode().strip()


def test_node_port_answers_on_every_node_from_this_machine(
    network_cluster: NetworkCluster, web: dict[str, Any]
) -> None:
    names = {p["metadata"]["name"] for p in web["pods"]}
    node_port = web["service"]["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    for host in NODES:
        seen = {_http_get(f"http://{network_cluster.lab.ip(host)}:{node_port}/") for _ in range(REQUESTS)}
        assert seen <= names and len(seen) >= 2, (host, seen)


def test_unready_pod_stops_receiving_traffic(network_cluster: NetworkCluster, web: dict[str, Any]) -> None:
    victim = web["pods"][0]
    name, ip = victim["metadata"]["name"], victim["status"]["podIP"]
    network_cluster.kubectl("exec", "-n", NS, name, "--", "rm", "/www/ready")
    try:
        _wait("the pod to leave the ready endpoints", lambda: ip not in _ready_endpoint_ips(network_cluster))
        time.sleep(1)  # kprov-proxy's sync follows the EndpointSlice within its min sync period
        url = f"http://{web['service']['spec']['clusterIP']}:80/"
        answers = _names_from_node(network_cluster, NODES[0], url)
        assert name not in answers and "FAILED" not in answers, answers
        assert len(set(answers)) == 2, answers
    finally:
        network_cluster.kubectl("exec", "-n", NS, name, "--", "sh", "-c", "echo ok > /www/ready")
    _wait("the pod to be ready again", lambda: ip in _ready_endpoint_ips(network_cluster))


def test_scaled_to_zero_connections_are_refused_not_timed_out(
    network_cluster: NetworkCluster, web: dict[str, Any]
) -> None:
    cluster = network_cluster
    cluster.kubectl("scale", "deployment", APP, "-n", NS, "--replicas=0")
    # terminating pods still serving are used while none is ready (as upstream): wait them out
    _wait("no ready or serving endpoints", lambda: not _usable_endpoint_ips(cluster))
    time.sleep(1)
    cluster_ip = web["service"]["spec"]["clusterIP"]
    rc, _, err = cluster.ssh(NODES[0], f"curl -sS -m 10 http://{cluster_ip}:80/", check=False)
    assert rc == 7, (rc, err)  # 7: could not connect (refused); a timeout would be 28
    node_port = web["service"]["spec"]["ports"][0]["nodePort"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((cluster.lab.ip(NODES[1]), node_port), timeout=10).close()
    with pytest.raises(urllib.error.URLError):
        _http_get(f"http://{cluster.lab.ip(NODES[0])}:{node_port}/")


def test_healthz_reports_healthy(network_cluster: NetworkCluster) -> None:
    for host in NODES:
        body = json.loads(_http_get(f"http://{network_cluster.lab.ip(host)}:10256/healthz"))
        assert body["lastUpdated"], body
