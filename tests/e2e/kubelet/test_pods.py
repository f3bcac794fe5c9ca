"""Pods run for real on a lab host: kprov-kubelet -> CRI -> containerd -> runc.

Every test talks to the cluster only through stock kubectl against kprov-apiserver, which
proxies logs and exec to the kubelet's HTTPS port.
"""

from __future__ import annotations

import json
import select
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.kubelet.cluster import BUSYBOX, NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest

pytestmark = pytest.mark.lab


def get_pod(cluster: NodeCluster, ns: str, name: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", "pod", name, "-n", ns, "-o", "json").stdout)


def wait_for(
    cluster: NodeCluster, ns: str, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    pod: dict[str, Any] = {}
    while time.monotonic() < deadline:
        pod = get_pod(cluster, ns, name)
        if check(pod):
            return pod
        time.sleep(0.5)
    raise AssertionError(f"pod {ns}/{name} never reached the expected state: {json.dumps(pod.get('status'))}")


def running(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and all(
        "running" in s.get("state", {}) for s in pod["status"].get("containerStatuses", [])
    )


def condition(pod: dict[str, Any], ctype: str) -> str:
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return str(c["status"])
    return ""


def status_of(pod: dict[str, Any], container: str) -> dict[str, Any]:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)


def test_two_containers_share_localhost_and_logs_and_exec_work(
    node_cluster: NodeCluster, namespace: str
) -> None:
    apply(
        node_cluster,
        namespace,
        pod_manifest(
            "duo",
            [
                {
                    "name": "server",
                    "command": [
                        "sh",
                        "-c",
                        "mkdir -p /www && echo hello-over-localhost > /www/index.html"
                        " && httpd -f -p 8080 -h /www",
                    ],
                },
                {
                    "name": "client",
                    "command": [
                        "sh",
                        "-c",
                        "while true; do wget -q -O - http://127.0.0.1:8080/; sleep 0.5; done",
                    ],
                },
            ],
        ),
    )
    pod = wait_for(node_cluster, namespace, "duo", running)
    assert pod["status"]["podIP"].startswith("10.244.")
    assert pod["status"]["hostIP"] == node_cluster.node_ip
    assert condition(pod, "Ready") == "True"
    assert all(s["containerID"].startswith("containerd://") for s in pod["status"]["containerStatuses"])
    deadline = time.monotonic() + 20
    logs = ""
    while time.monotonic() < deadline and "hello-over-localhost" not in logs:
        logs = node_cluster.kubectl("logs", "duo", "-c", "client", "-n", namespace, "--tail", "2").stdout
        time.sleep(0.5)
    assert "hello-over-localhost" in logs
    stamped = node_cluster.kubectl(
        "logs", "duo", "-c", "client", "-n", namespace, "--tail", "1", "--timestamps"
    ).stdout
    assert stamped.split(" ", 1)[0].startswith("20") and stamped.count("\n") == 1
    follow = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(node_cluster.admin_kubeconfig),
            "logs",
            "-f",
            "duo",
            "-c",
            "client",
            "-n",
            namespace,
            "--tail",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        ready, _, _ = select.select([follow.stdout], [], [], 30)
        line = follow.stdout.readline() if ready else ""
    finally:
        follow.kill()
        follow.wait()
    assert line.strip() == "hello-over-localhost"

    ok = node_cluster.kubectl(
        "exec",
        "duo",
        "-c",
        "client",
        "-n",
        namespace,
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2",
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout == "out\n" and "err" in ok.stderr
    failed = node_cluster.kubectl(
        "exec", "duo", "-c", "client", "-n", namespace, "--", "sh", "-c", "exit 7", check=False
    )
    assert failed.returncode == 7
    assert "exit code 7" in failed.stderr
    piped = node_cluster.kubectl(
        "exec",
        "-i",
        "duo",
        "-c",
        "server",
        "-n",
        namespace,
        "--",
        "sh",
        "-c",
        "tr a-z A-Z; exit 3",
        check=False,
        stdin="through stdin\n",
    )
    assert piped.stdout == "THROUGH STDIN\n"
    assert piped.returncode == 3


def test_configmap_and_secret_volumes_and_env(node_cluster: NodeCluster, namespace: str) -> None:
    apply(
        node_cluster,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"greeting": "hello-cm", "mode": "fast"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"password": "s3cr3t"},
        },
    )
    apply(
        node_cluster,
        namespace,
        pod_manifest(
            "config",
            [
                {
                    "name": "app",
                    "command": ["sh", "-c", "sleep 3600"],
                    "env": [
                        {
                            "name": "GREETING",
                            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}},
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
                        },
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "COMBINED", "value": "$(GREETING)-$(POD_NAME)"},
                    ],
                    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CM_"}],
                    "workingDir": "/tmp",
                    "volumeMounts": [
                        {"name": "cm", "mountPath": "/etc/cm"},
                        {"name": "sec", "mountPath": "/etc/sec"},
                        {"name": "scratch", "mountPath": "/scratch"},
                        {"name": "node-dir", "mountPath": "/node"},
                    ],
                }
            ],
            volumes=[
                {"name": "cm", "configMap": {"name": "settings"}},
                {"name": "sec", "secret": {"secretName": "creds"}},
                {"name": "scratch", "emptyDir": {}},
                {
                    "name": "node-dir",
                    "hostPath": {"path": "/var/tmp/kprov-e2e-hostpath", "type": "DirectoryOrCreate"},
                },
            ],
            initContainers=[
                {
                    "name": "prepare",
                    "image": BUSYBOX,
                    "command": ["sh", "-c", "echo from-init > /scratch/init.txt"],
                    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                }
            ],
        ),
    )
    pod = wait_for(node_cluster, namespace, "config", running)

    def sh(script: str) -> str:
        return node_cluster.kubectl("exec", "config", "-n", namespace, "--", "sh", "-c", script).stdout

    assert sh("cat /etc/cm/greeting") == "hello-cm"
    assert sh("cat /etc/sec/password") == "s3cr3t"
    env = dict(line.split("=", 1) for line in sh("env").splitlines() if "=" in line)
    assert env["GREETING"] == "hello-cm"
    assert env["PASSWORD"] == "s3cr3t"
    assert env["POD_NAME"] == "config"
    assert env["POD_IP"] == pod["status"]["podIP"]
    assert env["COMBINED"] == "hello-cm-config"
    assert env["CM_mode"] == "fast"
    assert sh("pwd").strip() == "/tmp"
    assert sh("echo x > /scratch/f && cat /scratch/f").strip() == "x"
    assert sh("cat /scratch/init.txt").strip() == "from-init"  # the init container ran first
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    sh("echo via-pod > /node/mark")
    assert node_cluster.ssh("cat /var/tmp/kprov-e2e-hostpath/mark").strip() == "via-pod"


def test_failing_liveness_restarts_and_readiness_toggles_ready(
    node_cluster: NodeCluster, namespace: str
) -> None:
    apply(
        node_cluster,
        namespace,
        pod_manifest(
            "probed",
            [
                {
                    "name": "doomed",
                    "command": ["sh", "-c", "sleep 3600"],
                    "livenessProbe": {
                        "exec": {"command": ["sh", "-c", "exit 1"]},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                },
                {
                    "name": "gated",
                    "command": ["sh", "-c", "sleep 3600"],
                    "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
                },
            ],
        ),
    )
    pod = wait_for(
        node_cluster,
        namespace,
        "probed",
        lambda p: (
            status_of(p, "doomed")["restartCount"] >= 2
            if p.get("status", {}).get("containerStatuses")
            else False
        ),
        timeout=90,
    )
    doomed = status_of(pod, "doomed")
    assert doomed["lastState"]["terminated"]["exitCode"] != 0
    assert condition(pod, "Ready") == "False"
    node_cluster.kubectl("exec", "probed", "-c", "gated", "-n", namespace, "--", "touch", "/tmp/ready")
    pod = wait_for(node_cluster, namespace, "probed", lambda p: status_of(p, "gated")["ready"], timeout=30)
    assert status_of(pod, "gated")["restartCount"] == 0
    node_cluster.kubectl("exec", "probed", "-c", "gated", "-n", namespace, "--", "rm", "/tmp/ready")
    pod = wait_for(
        node_cluster, namespace, "probed", lambda p: not status_of(p, "gated")["ready"], timeout=30
    )
    assert condition(pod, "ContainersReady") == "False"


def test_delete_stops_containers_within_grace_period(node_cluster: NodeCluster, namespace: str) -> None:
    apply(
        node_cluster,
        namespace,
        pod_manifest(
            "stubborn",
            [
                {
                    "name": "ignores-term",
                    "command": ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"],
                },
            ],
            terminationGracePeriodSeconds=3,
        ),
    )
    pod = wait_for(node_cluster, namespace, "stubborn", running)
    container_id = status_of(pod, "ignores-term")["containerID"].removeprefix("containerd://")
    start = time.monotonic()
    node_cluster.kubectl("delete", "pod", "stubborn", "-n", namespace, "--wait=true", timeout=60)
    elapsed = time.monotonic() - start
    assert elapsed >= 2.5  # SIGTERM was ignored, so the runtime waited for the grace period
    tasks = node_cluster.ssh("ctr -n k8s.io tasks ls -q")
    assert container_id not in tasks


def test_kubelet_restart_adopts_running_containers(node_cluster: NodeCluster, namespace: str) -> None:
    apply(node_cluster, namespace, pod_manifest("survivor", [{"name": "app", "command": ["sleep", "3600"]}]))
    before = status_of(wait_for(node_cluster, namespace, "survivor", running), "app")
    old_pid = node_cluster.ssh("systemctl show -p MainPID --value kprov-kubelet").strip()
    node_cluster.ssh("systemctl restart kprov-kubelet")
    assert node_cluster.ssh("systemctl show -p MainPID --value kprov-kubelet").strip() != old_pid
    # A pod created now runs only once the new kubelet has listed (and so adopted) all its pods.
    apply(node_cluster, namespace, pod_manifest("witness", [{"name": "app", "command": ["sleep", "3600"]}]))
    wait_for(node_cluster, namespace, "witness", running, timeout=120)
    time.sleep(2)  # a couple of sync rounds of the new kubelet over the adopted pod
    after = status_of(get_pod(node_cluster, namespace, "survivor"), "app")
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == 0
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    running_tasks = node_cluster.ssh("ctr -n k8s.io tasks ls")
    container_id = before["containerID"].removeprefix("containerd://")
    assert any(line.startswith(container_id) and "RUNNING" in line for line in running_tasks.splitlines())


def test_missing_image_reports_pull_errors(node_cluster: NodeCluster, namespace: str) -> None:
    apply(
        node_cluster,
        namespace,
        pod_manifest(
            "noimage",
            [
                {"name": "app", "image": "kprov.local/does-not-exist:1", "command": ["true"]},
            ],
        ),
    )

    def pull_failed(p: dict[str, Any]) -> bool:
        if not p.get("status", {}).get("containerStatuses"):
            return False
        waiting = status_of(p, "app")["state"].get("waiting", {})
        return waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff")

    pod = wait_for(node_cluster, namespace, "noimage", pull_failed)
    assert pod["status"]["phase"] == "Pending"
