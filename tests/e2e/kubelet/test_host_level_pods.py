"""Host-level pods and honest termination on a real node (containerd + runc in a lab host).

All pods start from one apply and are checked while they run, to keep the module short.
Lab facts these tests rely on (and state): lab hosts run without nspawn's seccomp filter
(``SYSTEMD_SECCOMP=0``), so an Unconfined container shows ``Seccomp: 0`` and RuntimeDefault one
filter, as on a real machine; memory limits are enforced for containers (the v1
memory controller is writable inside the host), so an over-limit pod is OOMKilled; the lab
kernel has no AppArmor (``CONFIG_SECURITY_APPARMOR`` is not set).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.kubelet.cluster import PAUSE, NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import condition, get_pod, running, wait_for

pytestmark = pytest.mark.lab

HOST_PORT = 18081
_STATUS_LINE = "grep -E '^(CapEff|Seccomp|Seccomp_filters|NoNewPrivs):' /proc/1/status"


def _sleeper(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "command": ["sh", "-c", "sleep 3600"], **extra}


def _web(name: str, page: str) -> dict[str, Any]:
    """busybox httpd serving ``page`` on the node's HOST_PORT."""
    script = f"echo {page} > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"
    return pod_manifest(name, [{"name": "web", "command": ["sh", "-c", script],
                                "ports": [{"containerPort": 8080, "hostPort": HOST_PORT}]}])


def _pods() -> list[dict[str, Any]]:
    return [
        pod_manifest("privileged", [_sleeper("c", securityContext={"privileged": True})]),
        pod_manifest("plain", [_sleeper("c")]),
        pod_manifest("hostnet", [_sleeper("c")], hostNetwork=True),
        _web("hostport", "first"),
        pod_manifest(
            "restricted",
            [_sleeper("c", volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}], securityContext={
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True})],
            securityContext={"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2345,
                             "seccompProfile": {"type": "RuntimeDefault"}},
            volumes=[{"name": "scratch", "emptyDir": {}}],
        ),
        pod_manifest("nonroot", [_sleeper("c")], securityContext={"runAsNonRoot": True}),
        pod_manifest("oom", [{
            "name": "hog", "command": ["sh", "-c", "head -c 300m /dev/zero | tail"],
            "resources": {"limits": {"memory": "32Mi"}},
        }], restartPolicy="Never"),
    ]


@pytest.fixture(scope="module")
def host_pods(node_cluster: NodeCluster) -> Iterator[str]:
    ns = "e2e-hostlevel"
    node_cluster.kubectl("create", "namespace", ns)
    apply(node_cluster, ns, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"},
                             "automountServiceAccountToken": False})
    apply(node_cluster, ns, *_pods())
    for name in ("privileged", "plain", "hostnet", "hostport", "restricted"):
        wait_for(node_cluster, ns, name, running)
    yield ns
    node_cluster.kubectl("delete", "pods", "--all", "-n", ns, "--wait=false", check=False)


def _in_pod(cluster: NodeCluster, ns: str, pod: str, script: str) -> str:
    return cluster.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", script).stdout


def _fields(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_privileged_pod_has_every_capability_the_node_has(node_cluster: NodeCluster, host_pods: str) -> None:
    node = _fields(node_cluster.ssh(_STATUS_LINE))
    privileged = _fields(_in_pod(node_cluster, host_pods, "privileged", _STATUS_LINE))
    plain = _fields(_in_pod(node_cluster, host_pods, "plain", _STATUS_LINE))
    assert privileged["CapEff"] == node["CapEff"]
    assert int(plain["CapEff"], 16) < int(node["CapEff"], 16)  # the runtime's default set


def test_host_network_pod_has_its_nodes_ip(node_cluster: NodeCluster, host_pods: str) -> None:
    pod = get_pod(node_cluster, host_pods, "hostnet")
    assert pod["status"]["podIP"] == node_cluster.node_ip == pod["status"]["hostIP"]
    links = _in_pod(node_cluster, host_pods, "hostnet", "ip -o addr show")
    assert node_cluster.node_ip in links


def _fetch(url: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                return str(reply.read().decode().strip())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_host_port_answers_on_the_node_and_is_reused_by_a_replacement(
    node_cluster: NodeCluster, host_pods: str
) -> None:
    url = f"http://{node_cluster.node_ip}:{HOST_PORT}/index.html"
    assert _fetch(url) == "first"
    node_cluster.kubectl("delete", "pod", "hostport", "-n", host_pods, "--wait=true", timeout=60)
    apply(node_cluster, host_pods, _web("hostport2", "second"))
    wait_for(node_cluster, host_pods, "hostport2", running)
    assert _fetch(url) == "second"


def test_restricted_pod_runs_confined_and_fs_group_owns_new_files(
    node_cluster: NodeCluster, host_pods: str
) -> None:
    restricted = _fields(_in_pod(node_cluster, host_pods, "restricted", _STATUS_LINE))
    plain = _fields(_in_pod(node_cluster, host_pods, "plain", _STATUS_LINE))
    assert restricted["Seccomp"] == "2" and plain["Seccomp"] == "0"  # RuntimeDefault; Unconfined
    assert int(restricted["Seccomp_filters"]) == int(plain["Seccomp_filters"]) + 1
    assert int(restricted["CapEff"], 16) == 0 and restricted["NoNewPrivs"] == "1"
    assert plain["NoNewPrivs"] == "0"
    owners = _in_pod(node_cluster, host_pods, "restricted",
                     "touch /scratch/new && stat -c '%u %g' /scratch/new && id -G")
    owner, groups = owners.splitlines()
    assert owner == "1000 2345"
    assert "2345" in groups.split() and "3000" in groups.split()
    root_fs = node_cluster.kubectl("exec", "restricted", "-n", host_pods, "--", "touch", "/x", check=False)
    assert root_fs.returncode != 0 and "Read-only file system" in root_fs.stderr


def test_run_as_non_root_refuses_an_image_running_as_root(node_cluster: NodeCluster, host_pods: str) -> None:
    def refused(pod: dict[str, Any]) -> bool:
        statuses = pod.get("status", {}).get("containerStatuses") or [{}]
        return bool(statuses[0].get("state", {}).get("waiting", {}).get("message"))

    pod = wait_for(node_cluster, host_pods, "nonroot", refused)
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    uid = pod["metadata"]["uid"]
    assert waiting["reason"] == "CreateContainerConfigError"
    assert waiting["message"] == (
        f'container has runAsNonRoot and image will run as root (pod: "nonroot_{host_pods}({uid})", '
        "container: c)"
    )


def test_over_its_memory_limit_a_container_is_oom_killed(node_cluster: NodeCluster, host_pods: str) -> None:
    pod = wait_for(node_cluster, host_pods, "oom", lambda p: p.get("status", {}).get("phase") == "Failed")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled" and terminated["exitCode"] == 137


def _watch_until_deleted(
    cluster: NodeCluster, ns: str, name: str, wait_unready: bool = True
) -> list[dict[str, Any]]:
    """Every version of the pod a watcher sees, from now until it is deleted; with
    ``wait_unready``, ``kubectl wait --for=condition=Ready=false`` must succeed meanwhile (the
    pod must still exist when it starts: its container should ignore SIGTERM). As upstream, a
    container without a readiness probe stays ready until it stops (here: killed at the end of
    the grace period, 5 s here)."""
    watcher = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.admin_kubeconfig), "get", "pod", name, "-n", ns,
         "--watch", "--output-watch-events", "-o", "json"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(0.5)
        cluster.kubectl("delete", "pod", name, "-n", ns, "--wait=false")
        waited = cluster.kubectl("wait", "--for=condition=Ready=false", f"pod/{name}", "-n", ns,
                                 "--timeout=30s", check=False) if wait_unready else None
        cluster.kubectl("wait", "--for=delete", f"pod/{name}", "-n", ns, "--timeout=60s", check=False)
        time.sleep(0.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    decoder = json.JSONDecoder()
    events, text = [], out.strip()
    while text:
        event, end = decoder.raw_decode(text)
        events.append(event)
        text = text[end:].strip()
    if waited is not None:
        assert waited.returncode == 0, f"kubectl wait --for=condition=Ready=false: {waited.stderr}"
    return [e["object"] for e in events if e.get("type") in ("ADDED", "MODIFIED")]


def test_deleted_pod_turns_unready_and_reports_how_it_ended(
    node_cluster: NodeCluster, host_pods: str
) -> None:
    assert condition(get_pod(node_cluster, host_pods, "plain"), "Ready") == "True"
    seen = _watch_until_deleted(node_cluster, host_pods, "plain")
    last = seen[-1]
    assert condition(last, "Ready") == "False"
    assert last["status"]["phase"] == "Failed"  # sh ignores SIGTERM as PID 1: killed at the grace's end
    assert last["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137


def test_pause_image_exits_at_once_on_sigterm(node_cluster: NodeCluster, host_pods: str) -> None:
    apply(node_cluster, host_pods, pod_manifest(
        "pause", [{"name": "pause", "image": PAUSE}], terminationGracePeriodSeconds=60))
    wait_for(node_cluster, host_pods, "pause", running)
    last = _watch_until_deleted(node_cluster, host_pods, "pause", wait_unready=False)[-1]
    terminated = last["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and last["status"]["phase"] == "Succeeded"
