"""kubectl debug (an ephemeral container in a running pod's PID namespace) and kubectl cp
both ways (tar over exec with stdin), as users run them against a kprov cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.kubelet.cluster import BUSYBOX, NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_attach import _kubectl, _run_in_terminal
from tests.e2e.kubelet.test_pods import get_pod, running, wait_for

pytestmark = pytest.mark.lab


def test_debug_runs_an_ephemeral_container_beside_the_target(
    node_cluster: NodeCluster, namespace: str
) -> None:
    apply(node_cluster, namespace, pod_manifest("dbg", [{"name": "app", "command": ["sleep", "3601"]}]))
    wait_for(node_cluster, namespace, "dbg", running)
    code, output = _run_in_terminal(
        [*_kubectl(node_cluster), "debug", "-it", "-n", namespace, "dbg", f"--image={BUSYBOX}",
         "--image-pull-policy=IfNotPresent", "--target=app", "--container=debugger", "--", "sh"],
        b"ps; exit\r",
        timeout=90,
    )
    assert "sleep 3601" in output, output  # the target's process: the PID namespace is shared
    assert code == 0, output
    pod = get_pod(node_cluster, namespace, "dbg")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["debugger"]
    statuses = pod["status"].get("ephemeralContainerStatuses") or []
    assert statuses and statuses[0]["name"] == "debugger"
    assert pod["status"]["phase"] == "Running"
    changed = node_cluster.kubectl(
        "patch", "pod", "dbg", "-n", namespace, "--subresource=ephemeralcontainers", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"other"}]', check=False,
    )
    assert changed.returncode != 0
    assert 'existing ephemeral containers "debugger" may not be changed' in changed.stderr


def test_cp_copies_a_file_into_a_pod_and_back(
    node_cluster: NodeCluster, namespace: str, tmp_path: Path
) -> None:
    apply(node_cluster, namespace, pod_manifest("files", [{"name": "app", "command": ["sleep", "3600"]}]))
    wait_for(node_cluster, namespace, "files", running)
    source = tmp_path / "in.txt"
    content = "".join(f"line {i} of the copied file\n" for i in range(2000))
    source.write_text(content)
    node_cluster.kubectl("cp", str(source), f"{namespace}/files:/tmp/in.txt", timeout=60)
    inside = node_cluster.kubectl("exec", "-n", namespace, "files", "--", "wc", "-l", "/tmp/in.txt").stdout
    assert inside.split()[0] == "2000"
    back = tmp_path / "back.txt"
    node_cluster.kubectl("cp", f"{namespace}/files:/tmp/in.txt", str(back), timeout=60)
    assert back.read_text() == content
