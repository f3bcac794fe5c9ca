"""kprov-metrics-server behind its APIService against a real API server: it publishes its
Service endpoint and the APIService, the API server's availability check passes, and
kubectl reads metrics.k8s.io through the aggregator (discovery, NodeMetrics from a fake
kubelet's /stats/summary, NotFound wording), as with metrics-server."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kprov.local.ports import free_port
from kprov.pki import issue_cert, read_pair, write_pair

from ._http import request, ssl_context

SUMMARY = {
    "node": {"nodeName": "metrics-node", "cpu": {"time": "2026-01-01T00:00:00Z", "usageNanoCores": 250000000},
             "memory": {"time": "2026-01-01T00:00:00Z", "workingSetBytes": 512 * 1024 * 1024}},
    "pods": [{"podRef": {"name": name, "namespace": "default", "uid": name},
              "cpu": {"time": "2026-01-01T00:00:00Z", "usageNanoCores": 1000},
              "containers": [{"name": "c", "cpu": {"usageNanoCores": 1000},
                              "memory": {"workingSetBytes": 4096}}]}
             for name in ("busy", "quiet", "gone")],
}
# The API server has pods busy (app=busy) and quiet (app=quiet); "gone" is only in the
# kubelet's summary (a pod deleted since), so the metrics API must not report it.
_API_PODS = ("busy", "quiet")


class _Kubelet(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        data = json.dumps(SUMMARY).encode() if self.path == "/stats/summary" else b"{}"
        self.send_response(200 if self.path == "/stats/summary" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def metrics_server(control_plane) -> Iterator[None]:  # type: ignore[no-untyped-def]
    pki_dir = Path(control_plane.info.dir) / "pki"
    work = Path(tempfile.mkdtemp(prefix="metrics-server-"))
    ca = read_pair(pki_dir, "ca")
    write_pair(work, "serving", issue_cert(ca, "metrics-server", server=True,
                                           dns_names=["metrics-server.kube-system.svc"]))
    kubelet_port = free_port()
    kubelet = ThreadingHTTPServer(("127.0.0.1", kubelet_port), _Kubelet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(work / "serving.crt"), str(work / "serving.key"))
    kubelet.socket = context.wrap_socket(kubelet.socket, server_side=True)
    threading.Thread(target=kubelet.serve_forever, daemon=True).start()
    admin = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "metrics-node"}}
    request(control_plane.server, admin, "POST", "/api/v1/nodes", json.dumps(node).encode())
    _, _, node = request(control_plane.server, admin, "GET", "/api/v1/nodes/metrics-node")
    node["status"] = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}
    code, _, body = request(control_plane.server, admin, "PUT", "/api/v1/nodes/metrics-node/status",
                            json.dumps(node).encode())
    assert code == 200, body
    for name in _API_PODS:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
               "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
        code, _, body = request(control_plane.server, admin, "POST", "/api/v1/namespaces/default/pods",
                                json.dumps(pod).encode())
        assert code == 201, body
    port = free_port()
    kubeconfig = control_plane.kubeconfig_for("system:kprov:metrics-server")
    log = (work / "log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "kprov.cluster.metrics_server", "--kubeconfig", str(kubeconfig),
         "--bind-address", "127.0.0.1", "--secure-port", str(port),
         "--tls-cert-file", str(work / "serving.crt"), "--tls-private-key-file", str(work / "serving.key"),
         "--tls-ca-file", str(pki_dir / "ca.crt"),
         "--kubelet-client-certificate", str(pki_dir / "apiserver-kubelet-client.crt"),
         "--kubelet-client-key", str(pki_dir / "apiserver-kubelet-client.key"),
         "--publish-address", "127.0.0.1", "--node-name", "local"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            _, _, found = request(control_plane.server, admin, "GET",
                                  "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
            registered = isinstance(found, dict) and found.get("kind") == "APIService"
            status = found.get("status") if registered else None
            conditions = (status or {}).get("conditions") or []
            if any(c["status"] == "True" for c in conditions):
                break
            assert process.poll() is None, (work / "log").read_text()
            assert time.monotonic() < deadline, (conditions, (work / "log").read_text())
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        process.wait(10)
        kubelet.shutdown()
        for name in _API_PODS:
            request(control_plane.server, admin, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
        request(control_plane.server, admin, "DELETE", "/api/v1/nodes/metrics-node")
        request(control_plane.server, admin, "DELETE",
                "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")


def test_metrics_api_is_discovered_through_the_aggregator(metrics_server, kubectl):
    resources = kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "name").stdout.split()
    assert sorted(resources) == ["nodes.metrics.k8s.io", "pods.metrics.k8s.io"]
    row = kubectl("get", "apiservices", "v1beta1.metrics.k8s.io").stdout.splitlines()[1].split()
    assert row[1:3] == ["kube-system/metrics-server", "True"]


def test_node_and_pod_metrics_are_served(metrics_server, kubectl):
    listed = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout)
    assert listed["kind"] == "NodeMetricsList"
    (item,) = [i for i in listed["items"] if i["metadata"]["name"] == "metrics-node"]
    assert item["usage"] == {"cpu": "250000000n", "memory": "524288Ki"}
    top = kubectl("top", "node", "metrics-node").stdout
    assert "metrics-node" in top and "250m" in top
    pods = kubectl("top", "pod", "busy", "-n", "default").stdout
    assert "busy" in pods
    path = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/absent"
    missing = kubectl("get", "--raw", path, check=False)
    assert missing.returncode != 0 and 'pods.metrics.k8s.io "absent" not found' in missing.stderr


def test_a_user_without_rbac_is_refused(control_plane, metrics_server):
    stranger = ssl_context(control_plane.kubeconfig_for("metrics-stranger"), control_plane.ca_file)
    code, _, _ = request(control_plane.server, stranger, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert code == 403


def _pod_names(kubectl, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    path = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods" + query
    return [i["metadata"]["name"] for i in json.loads(kubectl("get", "--raw", path).stdout)["items"]]


def test_pod_metrics_honour_selectors_and_leave_out_pods_not_in_the_api(metrics_server, kubectl):
    assert _pod_names(kubectl, "") == ["busy", "quiet"]
    assert _pod_names(kubectl, "?labelSelector=app%3Dbusy") == ["busy"]
    assert _pod_names(kubectl, "?fieldSelector=metadata.name%3Dquiet") == ["quiet"]
    top = kubectl("top", "pods", "-n", "default", "-l", "app=quiet").stdout
    assert "quiet" in top and "busy" not in top
    gone = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/gone"
    missing = kubectl("get", "--raw", gone, check=False)
    assert missing.returncode != 0 and 'pods.metrics.k8s.io "gone" not found' in missing.stderr


def test_node_metrics_honour_the_label_selector(metrics_server, kubectl):
    path = "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=kprov-test%3Dabsent"
    assert json.loads(kubectl("get", "--raw", path).stdout)["items"] == []
