"""Pod features the kubelet provides, checked on a real node: a postStart hook done before
the pod is reported, a memory-backed emptyDir, resource values in env, the managed
/etc/hosts with hostAliases, termination messages."""

from __future__ import annotations

import pytest

from tests.e2e.kubelet.cluster import NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import get_pod, running, wait_for

pytestmark = pytest.mark.lab


def test_hooks_tmpfs_resource_env_and_termination_message(node_cluster: NodeCluster, namespace: str) -> None:
    main = {
        "name": "main",
        "command": ["sh", "-c", "echo finished-fine > /dev/termination-log; sleep 3600"],
        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
        "env": [{"name": "CPU_MILLIS",
                 "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}}],
        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo hooked > /scratch/poststart"]}}},
    }
    pod = pod_manifest("features", [main], volumes=[
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
        hostAliases=[{"ip": "123.45.67.89", "hostnames": ["foo.local", "bar.local"]}])
    apply(node_cluster, namespace, pod)
    wait_for(node_cluster, namespace, "features", running)

    def in_pod(script: str) -> str:
        done = node_cluster.kubectl("exec", "features", "-n", namespace, "--", "sh", "-c", script)
        return done.stdout.strip()

    assert in_pod("cat /scratch/poststart") == "hooked"  # the hook ran before the pod was Running
    assert in_pod("stat -f -c %T /scratch") == "tmpfs"
    assert in_pod("stat -c %a /scratch") == "1777"
    assert in_pod("df -k /scratch | tail -1 | awk '{print $2}'") == str(16 * 1024)
    assert in_pod("echo $CPU_MILLIS") == "500"
    hosts = in_pod("cat /etc/hosts").splitlines()
    assert hosts[0] == "# Kubernetes-managed hosts file."
    assert "123.45.67.89\tfoo.local\tbar.local" in hosts
    assert any(line.endswith("\tfeatures") for line in hosts)  # the pod's IP and name
    uid = get_pod(node_cluster, namespace, "features")["metadata"]["uid"]
    node_cluster.kubectl("delete", "pod", "features", "-n", namespace, "--wait=true", timeout=90)
    leftovers = node_cluster.ssh(f"grep -c '/pods/{uid}/' /proc/mounts || true", check=False).strip()
    assert leftovers == "0", "the tmpfs must be unmounted with the pod"


def test_a_failed_container_reports_its_last_log_lines_as_its_message(
    node_cluster: NodeCluster, namespace: str
) -> None:
    failing = {"name": "fails", "command": ["sh", "-c", "echo first; echo the reason; exit 3"],
               "terminationMessagePolicy": "FallbackToLogsOnError"}
    apply(node_cluster, namespace, pod_manifest("fails", [failing], restartPolicy="Never"))
    pod = wait_for(node_cluster, namespace, "fails", lambda p: p.get("status", {}).get("phase") == "Failed")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["message"] == "first\nthe reason\n"
