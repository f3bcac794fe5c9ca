"""kubectl port-forward, as users run it: stock kubectl 1.32 -> kprov-apiserver (WebSocket
tunnel carrying SPDY) -> the kubelet on a lab host -> the pod's port."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.kubelet.cluster import NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import running, wait_for

pytestmark = pytest.mark.lab

PAGE = "served from inside the pod"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_forward_reaches_the_pods_server_for_several_connections(
    node_cluster: NodeCluster, namespace: str
) -> None:
    script = f"mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 80 -h /www"
    apply(node_cluster, namespace, pod_manifest("web", [{"name": "web", "command": ["sh", "-c", script]}]))
    wait_for(node_cluster, namespace, "web", running)
    time.sleep(1)  # httpd binds right after the container starts
    local = _free_port()
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(node_cluster.admin_kubeconfig), "port-forward", "-n", namespace,
         "pod/web", f"{local}:80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{local} -> 80" in line, line
        for _ in range(3):  # each request is its own connection: its own stream pair
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as reply:
                assert reply.read().decode().strip() == PAGE
        make_big = "head -c 3000000 /dev/zero | tr '\\0' x > /www/big"  # 3 MB: many DATA frames each way
        node_cluster.kubectl("exec", "web", "-n", namespace, "--", "sh", "-c", make_big)
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/big", timeout=30) as reply:
            assert reply.read() == b"x" * 3_000_000
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_forward_to_a_closed_port_says_why(node_cluster: NodeCluster, namespace: str) -> None:
    apply(node_cluster, namespace, pod_manifest("idle", [{"name": "idle", "command": ["sleep", "3600"]}]))
    wait_for(node_cluster, namespace, "idle", running)
    local = _free_port()
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(node_cluster.admin_kubeconfig), "port-forward", "-n", namespace,
         "pod/idle", f"{local}:8081"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert "Forwarding from" in proc.stdout.readline()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10).read()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "error forwarding port 8081 to pod idle" in err, err


def test_the_python_clients_port_forward_carries_an_http_request(
    node_cluster: NodeCluster, namespace: str
) -> None:
    """The official Python client speaks the WebSocket channel protocol (v4), not SPDY."""
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.stream import portforward

    script = f"mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 80 -h /www"
    apply(node_cluster, namespace, pod_manifest("pyweb", [{"name": "web", "command": ["sh", "-c", script]}]))
    wait_for(node_cluster, namespace, "pyweb", running)
    time.sleep(1)  # httpd binds right after the container starts
    config = k8s_config.new_client_from_config(config_file=str(node_cluster.admin_kubeconfig))
    api = k8s_client.CoreV1Api(config)
    forward = portforward(api.connect_get_namespaced_pod_portforward, "pyweb", namespace, ports="80")
    sock = forward.socket(80)
    sock.settimeout(30)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    forward.close()
    status_line = reply.split(b"\r\n", 1)[0]
    assert status_line.endswith(b" 200 OK") and reply.rstrip().endswith(PAGE.encode()), reply[:300]
