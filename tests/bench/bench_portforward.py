"""Port-forward throughput: stock kubectl port-forward -> kprov-apiserver -> kubelet -> a pod.

Against a running cluster (default: the README's `kprov up` lab 0), it starts a busybox pod
serving a file of ``--mib`` MiB with httpd, runs `kubectl port-forward`, downloads the file
``--rounds`` times through it and prints ``portforward_mib_per_s`` (best round) and
``portforward_first_byte_ms`` (a small request's latency: a new stream pair each time); then
the same download through the official Python client's port-forward (the WebSocket channel
protocol, v4, instead of kubectl's SPDY tunnel): ``portforward_ws_mib_per_s`` (best round).

    python tests/bench/bench_portforward.py [--kubeconfig PATH] [--mib 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import time
import urllib.request

DEFAULT_KUBECONFIG = "/var/lib/kprov/lab/0/inventory/pki/kubeconfigs/admin.conf"
IMAGE = "kprov.local/busybox:1"


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                          text=True, check=True, timeout=120).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ws_mib_per_s(kubeconfig: str, mib: int) -> float:
    """One download of /big through ``kubernetes.stream.portforward`` (v4 channels)."""
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.stream import portforward

    api = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=kubeconfig))
    forward = portforward(api.connect_get_namespaced_pod_portforward, "bench-portforward", "default",
                          ports="8080")
    sock = forward.socket(8080)
    sock.settimeout(600)
    began = time.perf_counter()
    sock.sendall(b"GET /big HTTP/1.0\r\n\r\n")
    size = 0
    while chunk := sock.recv(1 << 20):
        size += len(chunk)
    took = time.perf_counter() - began
    sock.close()
    forward.close()
    assert size >= mib * 1048576, size  # the body plus the response head
    return mib / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", default=DEFAULT_KUBECONFIG)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kc = args.kubeconfig
    script = (f"mkdir -p /www && echo ok > /www/small && head -c {args.mib * 1048576} /dev/zero > /www/big"
              " && exec httpd -f -p 8080 -h /www")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-portforward"},
           "spec": {"containers": [{"name": "web", "image": IMAGE, "command": ["sh", "-c", script],
                                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}
    kubectl(kc, "delete", "pod", "bench-portforward", "--ignore-not-found", "--wait=true")
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(pod))
    kubectl(kc, "wait", "--for=condition=Ready", "pod/bench-portforward", "--timeout=120s")
    local = free_port()
    proc = subprocess.Popen(["kubectl", "--kubeconfig", kc, "port-forward", "pod/bench-portforward",
                             f"{local}:8080"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and "Forwarding from" in proc.stdout.readline()
        latencies = []
        for _ in range(20):
            began = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/small", timeout=10) as reply:
                reply.read()
            latencies.append((time.perf_counter() - began) * 1000)
        best = 0.0
        for _ in range(args.rounds):
            began = time.perf_counter()
            size = 0
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/big", timeout=600) as reply:
                while chunk := reply.read(1 << 20):
                    size += len(chunk)
            assert size == args.mib * 1048576, size
            best = max(best, args.mib / (time.perf_counter() - began))
        print(f"portforward_mib_per_s = {best:.1f}")
        print(f"portforward_first_byte_ms = {sorted(latencies)[len(latencies) // 2]:.1f}")
        ws_best = max(ws_mib_per_s(kc, args.mib) for _ in range(args.rounds))
        print(f"portforward_ws_mib_per_s = {ws_best:.1f}")
    finally:
        proc.terminate()
        proc.wait(10)
        kubectl(kc, "delete", "pod", "bench-portforward", "--wait=false")


if __name__ == "__main__":
    main()
