"""Observability on the lab cluster: every component's /metrics parses as Prometheus text with
upstream's names (the API server through kubectl, the kubelet through the API server's node
proxy, the scheduler and controller manager on their secure ports with a ServiceAccount token
bound to system:monitoring, kube-proxy on its loopback metrics port), and the API server's
audit log (on at Metadata through the role) records a request with its user, verb, resource
and response code. Everything this module creates is deleted at its end."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Cluster, wait_for

pytestmark = pytest.mark.lab
NAMESPACE = "observe-e2e"
PYTHON = "/opt/kprov/venv/bin/python"

_FETCH = """
import ssl, sys, urllib.request, urllib.error
url, token = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
try:
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
sys.stdout.write(str(code) + "\\n" + body.decode())
"""


def _fetch(cluster: Cluster, host: str, url: str, token: str = "") -> tuple[int, str]:
    script = base64.b64encode(_FETCH.encode()).decode()
    command = (f"echo {script} | base64 -d > /tmp/kprov-fetch.py && {PYTHON} /tmp/kprov-fetch.py "
               f"{url} '{token}'; rm -f /tmp/kprov-fetch.py")
    out = cluster.ssh(host, command)
    code, _, body = out.partition("\n")
    return int(code), body


def _names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


@pytest.fixture(scope="module")
def monitor_token(cluster: Cluster) -> Any:
    cluster.create_namespace(NAMESPACE)
    cluster.kubectl("create", "serviceaccount", "scraper", "-n", NAMESPACE)
    cluster.kubectl("create", "clusterrolebinding", "observe-e2e-scraper", "--clusterrole=system:monitoring",
                    f"--serviceaccount={NAMESPACE}:scraper")
    yield cluster.kubectl("create", "token", "scraper", "-n", NAMESPACE, "--duration=10m").stdout.strip()
    cluster.kubectl("delete", "clusterrolebinding", "observe-e2e-scraper", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_api_server_metrics(cluster: Cluster) -> None:
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    names = _names(text)
    assert {
        "apiserver_request", "apiserver_request_duration_seconds", "apiserver_current_inflight_requests",
        "apiserver_storage_objects", "apiserver_watch_events", "etcd_request_duration_seconds",
    } <= names
    assert 'apiserver_request_total{' in text and 'resource="pods"' in text


def test_kubelet_and_proxy_metrics(cluster: Cluster) -> None:
    text = cluster.kubectl("get", "--raw", "/api/v1/nodes/h4/proxy/metrics").stdout
    assert {"kubelet_running_pods", "kubelet_pod_start_duration_seconds"} <= _names(text)
    code, text = _fetch(cluster, "h4", "http://127.0.0.1:10249/metrics")
    assert code == 200
    assert "kubeproxy_sync_proxy_rules_duration_seconds" in _names(text)
    for path, answer in (("proxyMode", "nftables"), ("healthz", "ok"), ("livez", "ok")):  # as kube-proxy's
        assert _fetch(cluster, "h4", f"http://127.0.0.1:10249/{path}") == (200, answer)


def test_kubelet_serves_its_pods_through_the_node_proxy(cluster: Cluster) -> None:
    """GET /pods on the kubelet's 10250 (upstream's e2e framework asks it through the API
    server's node proxy when a spec fails): a v1 PodList of the node's pods as the API shows them."""
    def listed() -> Any:
        body = json.loads(cluster.kubectl("get", "--raw", "/api/v1/nodes/h4/proxy/pods").stdout)
        found = [p for p in body["items"] if p["metadata"]["name"] == "kprov-ingress-h4"]
        return (body, found[0]) if found else None

    body, ingress = wait_for("kprov-ingress-h4 in h4's /pods", listed, 30)
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert {p["spec"]["nodeName"] for p in body["items"]} == {"h4"}
    api = cluster.kubectl_json("get", "pod", "kprov-ingress-h4", "-n", "kube-system")
    assert ingress["metadata"]["uid"] == api["metadata"]["uid"]
    assert ingress["metadata"]["namespace"] == "kube-system"


def test_scheduler_and_controller_manager_secure_ports(cluster: Cluster, monitor_token: str) -> None:
    for port, wanted in ((10259, "scheduler_schedule_attempts"), (10257, "workqueue_adds")):
        assert _fetch(cluster, "h1", f"https://127.0.0.1:{port}/healthz") == (200, "ok")
        assert _fetch(cluster, "h1", f"https://127.0.0.1:{port}/metrics")[0] == 401
        code, text = _fetch(cluster, "h1", f"https://127.0.0.1:{port}/metrics", monitor_token)
        assert code == 200, text
        assert wanted in _names(text)


def test_audit_log_records_a_request(cluster: Cluster, monitor_token: str) -> None:
    cluster.kubectl("create", "configmap", "audited", "-n", NAMESPACE, "--from-literal=a=1", via="h1")
    deadline = time.monotonic() + 20
    while True:
        grep = f"grep -h 'namespaces/{NAMESPACE}/configmaps' /var/log/kprov/audit.log || true"
        out = cluster.ssh("h1", grep)
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        created = [
            e for e in events
            if e["verb"] == "create" and e["objectRef"].get("namespace") == NAMESPACE
            and e["user"].get("username") == "kubernetes-admin"
        ]
        if created or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert created, out
    event = created[0]
    assert event["apiVersion"] == "audit.k8s.io/v1" and event["level"] == "Metadata"
    assert event["objectRef"]["resource"] == "configmaps"
    assert event["responseStatus"]["code"] == 201
    assert cluster.ssh("h1", "stat -c %a /var/log/kprov/audit.log") == "600"


def test_kubectl_top(cluster: Cluster) -> None:
    """metrics.k8s.io through the API server: `kubectl top nodes` prints every node with CPU
    and memory figures; `kubectl top pods -A` answers."""
    deadline = time.monotonic() + 60
    while True:
        run = cluster.kubectl("top", "nodes", "--no-headers", check=False)
        rows = [line.split() for line in run.stdout.splitlines() if line.strip()]
        if (run.returncode == 0 and len(rows) == 5) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert run.returncode == 0, run.stderr
    assert sorted(r[0] for r in rows) == ["h1", "h2", "h3", "h4", "h5"], run.stdout
    for row in rows:
        assert row[1].endswith("m") and row[1][:-1].isdigit(), row  # CPU(cores)
        assert row[3].endswith("Mi") and int(row[3][:-2]) > 0, row  # MEMORY(bytes)
    pods = cluster.kubectl("top", "pods", "-A", check=False)
    assert pods.returncode == 0 or "No resources found" in pods.stderr, pods.stderr


def test_a_lab_nodes_figures_are_its_own_cgroups_not_the_machines(cluster: Cluster) -> None:
    """A lab host shares the machine's kernel, so /proc shows every host the whole machine's
    memory in use; the kubelet reports its node from the node's root cgroup, as cAdvisor's
    root container does for a kind node."""
    summary = json.loads(cluster.kubectl("get", "--raw", "/api/v1/nodes/h4/proxy/stats/summary").stdout)
    reported = summary["node"]["memory"]["workingSetBytes"]
    mem = "/sys/fs/cgroup/memory"
    own = cluster.ssh("h4", f"echo $(( $(cat {mem}/memory.usage_in_bytes) - "
                            f"$(awk '$1 == \"total_inactive_file\" {{print $2}}' {mem}/memory.stat) ))")
    meminfo = dict(line.split()[:2] for line in cluster.ssh("h4", "cat /proc/meminfo").splitlines())
    own_bytes = int(own)
    machine_bytes = (int(meminfo["MemTotal:"]) - int(meminfo["MemAvailable:"])) * 1024
    assert abs(reported - own_bytes) < abs(reported - machine_bytes), (reported, own_bytes, machine_bytes)
    assert abs(reported - own_bytes) < 0.25 * own_bytes, (reported, own_bytes)
