"""Container lifecycle on a real node: a preStop hook runs before the stop signal, a native
sidecar runs beside the app and the pod completes with the app, fsGroup owns the volumes."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.kubelet.cluster import NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import get_pod, running, wait_for

pytestmark = pytest.mark.lab


def test_pre_stop_runs_before_the_stop_signal(node_cluster: NodeCluster, namespace: str) -> None:
    host_dir = f"/var/tmp/kprov-e2e-prestop-{uuid.uuid4().hex[:8]}"
    script = ("trap 'echo term >> /log/events; exit 0' TERM; echo started >> /log/events; "
              "while true; do sleep 1; done")
    main = {
        "name": "app",
        "command": ["sh", "-c", script],
        "volumeMounts": [{"name": "log", "mountPath": "/log"}],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /log/events"]}}},
    }
    pod = pod_manifest("stopper", [main], volumes=[
        {"name": "log", "hostPath": {"path": host_dir, "type": "DirectoryOrCreate"}}])
    try:
        apply(node_cluster, namespace, pod)
        wait_for(node_cluster, namespace, "stopper", running)
        node_cluster.kubectl("delete", "pod", "stopper", "-n", namespace, "--wait=true", timeout=90)
        events = node_cluster.ssh(f"cat {host_dir}/events").split()
        assert events == ["started", "prestop", "term"]
    finally:
        node_cluster.ssh(f"rm -rf {host_dir}", check=False)


def test_native_sidecar_runs_beside_the_app_and_the_pod_completes_with_it(
    node_cluster: NodeCluster, namespace: str
) -> None:
    sidecar = {"name": "helper", "command": ["sh", "-c", "sleep 3600"], "restartPolicy": "Always",
               "image": "kprov.local/busybox:1", "imagePullPolicy": "IfNotPresent"}
    app = {"name": "app", "command": ["sh", "-c", "sleep 4; echo done"]}
    apply(node_cluster, namespace, pod_manifest("withsidecar", [app], restartPolicy="Never",
                                                initContainers=[sidecar]))

    def both_running(pod: dict) -> bool:
        status = pod.get("status", {})
        helper = (status.get("initContainerStatuses") or [{}])[0]
        return running(pod) and "running" in helper.get("state", {})

    wait_for(node_cluster, namespace, "withsidecar", both_running)
    pod = wait_for(node_cluster, namespace, "withsidecar",
                   lambda p: p.get("status", {}).get("phase") == "Succeeded")
    helper = pod["status"]["initContainerStatuses"][0]
    assert "terminated" in helper["state"], helper  # stopped once the app was done
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_fs_group_owns_volumes_and_joins_the_processes_groups(
    node_cluster: NodeCluster, namespace: str
) -> None:
    main = {"name": "app", "command": ["sleep", "3600"],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
    apply(node_cluster, namespace, pod_manifest(
        "grouped", [main], volumes=[{"name": "scratch", "emptyDir": {}}],
        securityContext={"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000},
    ))
    wait_for(node_cluster, namespace, "grouped", running)

    def in_pod(script: str) -> str:
        done = node_cluster.kubectl("exec", "grouped", "-n", namespace, "--", "sh", "-c", script)
        return done.stdout.strip()

    assert "2000" in in_pod("id -G").split()
    assert in_pod("stat -c %g /scratch") == "2000"
    assert in_pod("touch /scratch/made && stat -c %g /scratch/made") == "2000"  # setgid: inherited
    assert get_pod(node_cluster, namespace, "grouped")["status"]["phase"] == "Running"
