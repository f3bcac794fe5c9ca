"""NetworkPolicy enforced on the shared 5-host cluster (kprov-proxy's agent on every node).

Two busybox httpd servers in namespace ``np-a`` (one per worker, h4 and h5), clients with
different labels in ``np-a`` and in ``np-b``; every probe is a ``wget`` from a client pod
to a server pod IP (across nodes and on the same node). Deny-all ingress isolates the
namespace; a podSelector rule admits exactly the selected clients of the same namespace; a
namespaceSelector rule adds a whole namespace; a pod started under a policy is never
reached by a forbidden client; an egress policy allowing only port 53 still resolves
Service names but blocks HTTP. The time
from a policy's create to its enforcement on both nodes is printed (not asserted).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from tests.e2e.cluster.conftest import Cluster, wait_for

pytestmark = pytest.mark.lab

IMAGE = "kprov.local/busybox:1"
WORKERS = ["h4", "h5"]
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


def _pod(name: str, ns: str, node: str, command: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", command],
                            "ports": [{"name": "http", "containerPort": 8080}]}],
        },
    }


def _manifests() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "np-a"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        _pod("client", "np-a", "h4", "sleep 100000", role="client"),
        _pod("other", "np-a", "h5", "sleep 100000", role="other"),
        _pod("outsider", "np-b", "h4", "sleep 100000", role="client"),
    ]
    objs += [_pod(f"web-{w}", "np-a", w, SERVE, app="web") for w in WORKERS]
    return objs


def _policy(name: str, ns: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                           "metadata": {"name": name, "namespace": ns}, "spec": spec})


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> Iterator[dict[str, str]]:
    """Pod name -> pod IP once all are running."""
    for namespace in ("np-a", "np-b"):
        cluster.create_namespace(namespace)
    text = "---\n".join(yaml.safe_dump(o) for o in _manifests())
    _apply(cluster, text)

    def running() -> dict[str, str] | None:
        items = [*cluster.kubectl_json("get", "pods", "-n", "np-a")["items"],
                 *cluster.kubectl_json("get", "pods", "-n", "np-b")["items"]]
        ips = {p["metadata"]["name"]: p["status"].get("podIP", "") for p in items
               if p["status"].get("phase") == "Running"}
        return ips if len(ips) == 5 and all(ips.values()) else None

    yield wait_for("the policy test pods to run", running, timeout=180)
    if not os.environ.get("KPROV_KEEP_LAB"):  # set it to look at a failed run's pods
        cluster.kubectl("delete", "namespace", "np-a", "np-b", "--wait=false", check=False)


def _apply(cluster: Cluster, text: str) -> None:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"],
                          input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _reaches(cluster: Cluster, client: str, ns: str, url: str) -> bool:
    # busybox wget's own -T crashes in this image; a dropped SYN ends at the 3 s timeout
    proc = cluster.kubectl("exec", "-n", ns, client, "--", "sh", "-c", f"timeout 3 wget -q -O - {url}",
                           check=False, timeout=30)
    return proc.returncode == 0


def _matrix(cluster: Cluster, ips: dict[str, str]) -> dict[tuple[str, str], bool]:
    """(client, server) -> reached, every probe at once (a blocked one costs its timeout)."""
    clients = [("client", "np-a"), ("other", "np-a"), ("outsider", "np-b")]
    probes = [(client, ns, server) for client, ns in clients for server in ("web-h4", "web-h5")]
    with ThreadPoolExecutor(len(probes)) as pool:
        reached = pool.map(lambda p: _reaches(cluster, p[0], p[1], f"http://{ips[p[2]]}:8080/"), probes)
        return {(client, server): ok for (client, _ns, server), ok in zip(probes, reached, strict=True)}


def _until_matrix(cluster: Cluster, ips: dict[str, str], want: dict[tuple[str, str], bool]) -> float:
    started = time.monotonic()
    wait_for("the policy to be enforced", lambda: _matrix(cluster, ips) == want, timeout=60, interval=0.5)
    return time.monotonic() - started


def test_deny_all_then_a_pod_selector_rule(cluster: Cluster, pods: dict[str, str]) -> None:
    everyone = {(c, s): True for c in ("client", "other", "outsider") for s in ("web-h4", "web-h5")}
    assert _matrix(cluster, pods) == everyone  # no policy: default allow

    started = time.monotonic()
    _apply(cluster, _policy("deny-all", "np-a", {"podSelector": {}}))
    isolated = {key: False for key in everyone}
    _until_matrix(cluster, pods, isolated)
    print(f"netpol_deny_all_enforced_s = {time.monotonic() - started:.2f}")

    _apply(cluster, _policy("web-from-clients", "np-a", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                     "ports": [{"port": "http"}]}],
    }))
    admitted = {(c, s): c == "client" for c, s in everyone}  # not "other", not np-b's namespace
    _until_matrix(cluster, pods, admitted)

    _apply(cluster, _policy("web-from-np-b", "np-a", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "np-b"}}}]}],
    }))
    _until_matrix(cluster, pods, {(c, s): c in ("client", "outsider") for c, s in everyone})  # additive


def test_a_new_pod_is_never_reachable_before_its_policy(cluster: Cluster, pods: dict[str, str]) -> None:
    """Under web-from-clients (still in force), a new web pod is probed by a forbidden client
    from the moment its IP is known until the allowed client has reached it."""
    text = yaml.safe_dump(_pod("web-new", "np-a", "h5", SERVE, app="web"))
    _apply(cluster, text)
    ip = wait_for("the new pod's IP", lambda: cluster.kubectl_json("get", "pod", "web-new", "-n", "np-a")
                  ["status"].get("podIP"), timeout=60, interval=0.1)
    forbidden_reached: list[bool] = []
    with ThreadPoolExecutor(1) as pool:
        done = False

        def probe_forbidden() -> None:
            while not done:
                forbidden_reached.append(_reaches(cluster, "other", "np-a", f"http://{ip}:8080/"))

        future = pool.submit(probe_forbidden)
        try:
            wait_for("the allowed client to reach the new pod",
                     lambda: _reaches(cluster, "client", "np-a", f"http://{ip}:8080/"),
                     timeout=60, interval=0.2)
        finally:
            done = True
            future.result()
    assert forbidden_reached and not any(forbidden_reached)
    cluster.kubectl("delete", "pod", "web-new", "-n", "np-a", "--wait=false")
    cluster.kubectl("delete", "networkpolicy", "-n", "np-a", "--all")
    everyone = {(c, s): True for c in ("client", "other", "outsider") for s in ("web-h4", "web-h5")}
    _until_matrix(cluster, pods, everyone)


def test_egress_only_dns_resolves_names_but_blocks_http(cluster: Cluster, pods: dict[str, str]) -> None:
    url = "http://web.np-a.svc.cluster.local/"
    assert _reaches(cluster, "outsider", "np-b", url)
    _apply(cluster, _policy("dns-only", "np-b", {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}],
    }))

    def blocked() -> bool:
        return not _reaches(cluster, "outsider", "np-b", url)

    wait_for("HTTP to be blocked", blocked, timeout=60, interval=0.5)
    lookup = cluster.kubectl("exec", "-n", "np-b", "outsider", "--", "sh", "-c",
                             "nslookup web.np-a.svc.cluster.local", check=False, timeout=30)
    assert lookup.returncode == 0 and "Address" in lookup.stdout, lookup.stdout + lookup.stderr
    cluster.kubectl("delete", "networkpolicy", "dns-only", "-n", "np-b")
    wait_for("HTTP to pass again", lambda: _reaches(cluster, "outsider", "np-b", url), timeout=60,
             interval=0.5)


def test_every_node_agent_has_synced(cluster: Cluster, pods: dict[str, str]) -> None:
    script = ("python3 -c \"import urllib.request as u; "
              "print(u.urlopen('http://127.0.0.1:10249/metrics', timeout=5).read().decode())\"")
    for host in ["h1", "h2", "h3", *WORKERS]:
        metrics = cluster.ssh(host, script)
        synced = [line for line in metrics.splitlines() if line.startswith("kprov_netpol_synced ")]
        assert synced == ["kprov_netpol_synced 1.0"], (host, synced)
        table = cluster.ssh(host, "nft list table ip kprov-netpol")
        assert "ip daddr vmap @ingress-pods" in table, (host, table[:500])
