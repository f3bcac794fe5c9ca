"""LoadBalancer Services on the lab cluster, reached from this machine over the lab bridge.

The shared cluster has no ``loadbalancer_address_pools``, so an address comes from the
ServiceLB-style fallback: the ready nodes' addresses, said in an Event; kube-proxy on
every node DNATs them to the Service's endpoints; with externalTrafficPolicy Local only the
nodes running an endpoint answer, and the healthCheckNodePort says 200 there, 503 elsewhere.
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.cluster.conftest import Cluster, wait_for

NS = "lb-e2e"
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    cluster.kubectl("create", "namespace", NS)
    yield NS
    cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def _deployment() -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: httpd
        image: kprov.local/busybox:1
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "{SERVE}"]
        ports: [{{containerPort: 8080}}]
"""


def _ingress(cluster: Cluster) -> list[str]:
    svc: dict[str, Any] = cluster.kubectl_json("get", "service", "web", "-n", NS)
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [entry["ip"] for entry in ingress if entry.get("ip")]


def _http(ip: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{ip}:80/", timeout=3) as reply:
            return reply.read().decode().strip() or None
    except OSError:
        return None


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_expose_type_load_balancer_answers_from_outside_the_cluster(cluster: Cluster, namespace: str) -> None:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"],
                          input=_deployment(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cluster.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=120s", timeout=150)
    cluster.kubectl("expose", "deployment", "web", "-n", NS, "--type=LoadBalancer", "--port=80",
                    "--target-port=8080")
    addresses = wait_for("an ingress address on the LoadBalancer Service", lambda: _ingress(cluster), 10)
    node_ips = {cluster.lab.ip(f"h{i}") for i in range(1, 6)}
    assert set(addresses) <= node_ips, addresses
    for ip in addresses:
        page = wait_for(f"HTTP on {ip}:80 from the lab bridge", lambda ip=ip: _http(ip), 20)
        assert page.startswith("web-"), page
    described = cluster.kubectl("describe", "service", "web", "-n", NS).stdout
    assert "NodeAddressesAssigned" in described and "loadbalancer_address_pools" in described, described
    pods = cluster.kubectl_json("get", "pods", "-n", NS, "-l", "app=web")["items"]
    with_pods = {cluster.lab.ip(p["spec"]["nodeName"]) for p in pods}  # lab host names are node names
    assert set(addresses) - with_pods, "every node runs a web pod: Local would change nothing"
    cluster.kubectl("patch", "service", "web", "-n", NS, "-p", '{"spec":{"externalTrafficPolicy":"Local"}}')

    def only_nodes_with_pods_answer() -> bool:
        return {ip for ip in addresses if _http(ip)} == with_pods & set(addresses)

    wait_for("policy Local: only nodes with a web pod answering", only_nodes_with_pods_answer, 30)
    check = cluster.kubectl_json("get", "service", "web", "-n", NS)["spec"]["healthCheckNodePort"]
    statuses = {ip: _status(f"http://{ip}:{check}/") for ip in addresses}
    assert statuses == {ip: 200 if ip in with_pods else 503 for ip in addresses}, statuses
    cluster.kubectl("patch", "service", "web", "-n", NS, "-p", '{"spec":{"type":"ClusterIP"}}')
    wait_for("the address released after the type change", lambda: not _ingress(cluster), 10)
