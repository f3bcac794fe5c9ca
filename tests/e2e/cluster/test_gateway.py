"""The Gateway API on the lab cluster, reached from this machine (outside the cluster).

kprov-ingress has installed the CRDs; the test makes a GatewayClass naming kprov's
controller, a Gateway with two HTTP listeners (port 80, shared with the Ingress, and 8088 of
its own) and an HTTPRoute sending ``g.example`` to one Deployment and its ``/api`` prefix to
another; a third listener serves HTTPS on 443 with a Secret's certificate. On every worker,
on each port: the right backend by hostname and path prefix, 404 for another hostname, the
Secret's certificate by SNI; the class Accepted, the Gateway Programmed with the workers'
addresses, the route Accepted with its references resolved.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.client import ApiClient, load_kubeconfig
from kprov.deploy.verify.gateway_checks import check_gateways
from kprov.deploy.verify.report import Check
from kprov.provision.inventory import load_inventory
from tests.e2e.cluster.conftest import Cluster, wait_for
from tests.e2e.cluster.test_ingress import SERVE, _answered_by, _certificate, _curl, _tls_subject, wait_routed

NS = "gateway-e2e"
CONTROLLER = "kprov.io/gateway-controller"


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    cluster.create_namespace(NS)
    yield NS
    cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    cluster.kubectl("delete", "gatewayclass", "kprov-e2e", "--wait=false", check=False)


def _manifests() -> str:
    docs = []
    for name in ("alpha", "beta"):
        docs.append(f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NS}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: httpd
        image: kprov.local/busybox:1
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "{SERVE}"]
        ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NS}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
""")
    docs.append(f"""
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: kprov-e2e}}
spec: {{controllerName: {CONTROLLER}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web, namespace: {NS}}}
spec:
  gatewayClassName: kprov-e2e
  listeners:
  - {{name: http, port: 80, protocol: HTTP}}
  - {{name: alt, port: 8088, protocol: HTTP}}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: secure.g.example
    tls: {{certificateRefs: [{{name: gateway-tls}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: {NS}}}
spec:
  parentRefs: [{{name: web}}]
  hostnames: [g.example, secure.g.example]
  rules:
  - backendRefs: [{{name: alpha, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /api}}}}]
    backendRefs: [{{name: beta, port: 80}}]
""")
    return "---".join(docs)


def _verify_rows(cluster: Cluster) -> dict[str, Check]:
    """`kprov verify`'s Gateway rows for this module's Gateway, by row name."""
    inventory = load_inventory(cluster.inventory)
    host_vars = {h: inventory.host_vars(h) for h in inventory.hosts}
    workers = [h for h in inventory.hosts if h in set(inventory.members("workers"))]

    async def rows() -> list[Check]:
        async with ApiClient(load_kubeconfig(cluster.kubeconfig), timeout=10.0) as client:
            return await check_gateways(client, workers, host_vars)

    return {r.name: r for r in asyncio.run(rows()) if r.name.startswith(f"Gateway {NS}/web ")}


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (obj.get("status") or obj).get("conditions") or []}


def test_gateway_routes_by_hostname_and_path_prefix_and_is_programmed(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    crds = cluster.kubectl("get", "crd", "-o", "name").stdout
    for plural in ("gatewayclasses", "gateways", "httproutes", "referencegrants"):
        assert f"{plural}.gateway.networking.k8s.io" in crds, crds
    cert, key = _certificate(tmp_path, "secure.g.example")
    cluster.kubectl("create", "secret", "tls", "gateway-tls", "-n", NS, f"--cert={cert}", f"--key={key}")
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"],
        input=_manifests(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("alpha", "beta"):
        cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", NS, "--timeout=120s", timeout=150)
    workers = [cluster.lab.ip(h) for h in ("h4", "h5")]  # the lab inventory's workers
    for host, ip in zip(("h4", "h5"), workers, strict=True):
        for port in (80, 8088):
            url = f"http://{ip}:{port}"
            wait_routed(cluster, host, NS, f"g.example/api/ routed on {url}",
                        lambda url=url: _answered_by("beta-", "-H", "Host: g.example", f"{url}/api/"))
            wait_routed(cluster, host, NS, f"g.example/ routed on {url}",
                        lambda url=url: _answered_by("alpha-", "-H", "Host: g.example", f"{url}/"))
            status, page = _curl("-H", "Host: g.example", f"{url}/apis")  # element-wise: alpha's 404
            assert status == 404 and page != "404 page not found", page
            assert _curl("-H", "Host: other.example", f"{url}/") == (404, "404 page not found")
        # the HTTPS listener: the Secret's certificate by SNI, routed like the others
        resolve = ["-k", "--resolve", f"secure.g.example:443:{ip}", "https://secure.g.example/api/"]
        wait_routed(cluster, host, NS, f"secure.g.example/api/ over TLS on {ip}",
                    lambda resolve=resolve: _answered_by("beta-", *resolve))
        assert "CN = secure.g.example" in _tls_subject(ip, "secure.g.example")

    def programmed() -> bool:
        gateway = cluster.kubectl_json("get", "gateway", "web", "-n", NS)
        addresses = sorted(a["value"] for a in gateway.get("status", {}).get("addresses", []))
        ready = _conditions(gateway).get("Programmed") == ("True", "Programmed")
        return ready and addresses == sorted(workers)

    wait_for("the Gateway Programmed with the workers' addresses", programmed, 20)
    gateway_class = cluster.kubectl_json("get", "gatewayclass", "kprov-e2e")
    assert _conditions(gateway_class)["Accepted"] == ("True", "Accepted")
    gateway = cluster.kubectl_json("get", "gateway", "web", "-n", NS)
    assert _conditions(gateway)["Accepted"] == ("True", "Accepted")
    assert [x["attachedRoutes"] for x in gateway["status"]["listeners"]] == [1, 1, 1]

    def route_parents() -> list[dict[str, Any]]:
        route = cluster.kubectl_json("get", "httproute", "web", "-n", NS)
        return list(route.get("status", {}).get("parents", []))

    [parent] = wait_for("the route's status", route_parents, 20)
    assert parent["controllerName"] == CONTROLLER
    assert _conditions(parent) == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    printed = cluster.kubectl("get", "gateway", "web", "-n", NS).stdout
    assert "True" in printed and workers[0] in printed, printed

    # kprov verify's Gateway rows: Programmed, and every listener × address answers from here
    rows = _verify_rows(cluster)
    wanted = {f"Gateway {NS}/web Programmed"} | {
        f"Gateway {NS}/web listener {name} answers from outside ({url})"
        for ip in workers for name, url in (("http", f"http://{ip}:80/"), ("alt", f"http://{ip}:8088/"),
                                            ("https", f"https://{ip}:443/"))}
    assert set(rows) == wanted, sorted(rows)
    assert all(r.ok for r in rows.values()), [r for r in rows.values() if not r.ok]
    # ... and a listener port that does not answer on one worker fails its row, naming the worker
    table = "kprov-e2e-gwverify"
    cluster.ssh("h5", f"nft add table inet {table} && nft 'add chain inet {table} in "
                      "{ type filter hook input priority -10; }' && "
                      f"nft add rule inet {table} in tcp dport 8088 reject with tcp reset")
    try:
        rows = _verify_rows(cluster)
    finally:
        cluster.ssh("h5", f"nft delete table inet {table}")
    failed = {name: r.detail for name, r in rows.items() if not r.ok}
    alt_on_h5 = f"Gateway {NS}/web listener alt answers from outside (http://{workers[1]}:8088/)"
    assert list(failed) == [alt_on_h5], failed
    assert "no answer" in failed[alt_on_h5] and f"worker h5 ({workers[1]})" in failed[alt_on_h5], failed


SHIPPED_NS = "gateway-class-e2e"


def test_a_gateway_of_the_shipped_class_is_programmed_with_no_class_written(cluster: Cluster) -> None:
    """The GatewayClass ``kprov`` comes with the cluster (kprov-ingress makes it, as Cilium,
    Istio and Traefik ship theirs): a Gateway naming it is Programmed with no class written."""
    shipped = cluster.kubectl_json("get", "gatewayclass", "kprov")
    assert shipped["spec"]["controllerName"] == CONTROLLER
    assert _conditions(shipped).get("Accepted") == ("True", "Accepted"), shipped.get("status")
    cluster.create_namespace(SHIPPED_NS)
    try:
        gateway = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: shipped, namespace: {SHIPPED_NS}}}
spec:
  gatewayClassName: kprov
  listeners: [{{name: http, port: 8089, protocol: HTTP}}]
"""
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"],
            input=gateway, capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 0, proc.stderr

        def programmed() -> bool:
            got = cluster.kubectl_json("get", "gateway", "shipped", "-n", SHIPPED_NS)
            return _conditions(got).get("Programmed") == ("True", "Programmed")

        wait_for("the Gateway of class kprov Programmed", programmed, 60)
    finally:
        cluster.kubectl("delete", "namespace", SHIPPED_NS, "--wait=false", check=False)
