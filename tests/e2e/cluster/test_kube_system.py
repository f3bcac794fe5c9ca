"""kube-system shows the system: each host's kprov units as mirror pods (kube-apiserver-h1,
etcd-h1, kube-proxy-h4, ...), Running and Ready while their unit is active, NotReady with the
unit's exit while it is stopped, and back when a user deletes one; the kubelet's credentials
can create nothing but such pods of their own (record 0041)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.kubelet.node.host_services import HOST_SERVICES

from .conftest import Cluster, wait_for

pytestmark = pytest.mark.lab
HOSTS = ("h1", "h2", "h3", "h4", "h5")


def _pods(cluster: Cluster) -> dict[str, dict[str, Any]]:
    items = cluster.kubectl_json("get", "pods", "-n", "kube-system")["items"]
    return {p["metadata"]["name"]: p for p in items}


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _installed(cluster: Cluster) -> set[str]:
    """<prefix>-<host> for every known kprov unit systemd has on each host."""
    wanted = set()
    units = " ".join(s.unit for s in HOST_SERVICES)
    for host in HOSTS:
        out = cluster.ssh(host, f"systemctl show -p Id,LoadState {units}")
        blocks = [block for block in out.split("\n\n") if "LoadState=loaded" in block]
        loaded = {block.split("Id=")[1].split()[0] for block in blocks}
        wanted |= {f"{s.prefix}-{host}" for s in HOST_SERVICES if s.unit in loaded}
    return wanted


def test_every_hosts_units_are_running_ready_mirror_pods(cluster: Cluster) -> None:
    wanted = _installed(cluster)
    assert {"kube-apiserver-h1", "etcd-h1", "kube-scheduler-h1", "kube-proxy-h4"} <= wanted, wanted

    def all_ready() -> bool:
        pods = _pods(cluster)
        return wanted <= set(pods) and all(_ready(pods[name]) for name in wanted)

    wait_for("every kprov unit's mirror pod Ready", all_ready, 60)
    pod = _pods(cluster)["kube-apiserver-h1"]
    assert pod["metadata"]["labels"] == {"component": "kube-apiserver", "tier": "control-plane"}
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert pod["spec"]["nodeName"] == "h1" and pod["status"]["podIP"] == pod["status"]["hostIP"]
    table = cluster.kubectl("get", "pods", "-n", "kube-system", "--no-headers").stdout
    row = next(line.split() for line in table.splitlines() if line.startswith("kube-apiserver-h1 "))
    assert row[1:3] == ["1/1", "Running"], table


def test_a_stopped_unit_is_not_ready_and_a_deleted_pod_comes_back(cluster: Cluster) -> None:
    name = "kube-scheduler-h3"  # one of three schedulers: the cluster keeps scheduling
    wait_for(f"{name} Ready", lambda: name in _pods(cluster) and _ready(_pods(cluster)[name]), 60)
    cluster.ssh("h3", "systemctl stop kprov-scheduler")
    try:
        def stopped() -> dict[str, Any] | None:
            pod = _pods(cluster).get(name)
            state = (pod or {}).get("status", {}).get("containerStatuses", [{}])[0].get("state", {})
            return state if pod is not None and not _ready(pod) and "terminated" in state else None

        state = wait_for(f"{name} NotReady with its exit", stopped, 30)
        assert "kprov-scheduler.service is inactive" in state["terminated"]["message"]
    finally:
        cluster.ssh("h3", "systemctl start kprov-scheduler")
    wait_for(f"{name} Ready again", lambda: _ready(_pods(cluster)[name]), 30)

    uid = _pods(cluster)[name]["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "-n", "kube-system", name, "--wait=false")
    wait_for(f"{name} back after its delete",
             lambda: name in _pods(cluster) and _pods(cluster)[name]["metadata"]["uid"] != uid
             and _ready(_pods(cluster)[name]), 30)


def test_kubectl_logs_of_a_mirror_pod_is_its_units_journal(cluster: Cluster) -> None:
    name = "kube-apiserver-h2"
    wait_for(f"{name} Ready", lambda: name in _pods(cluster) and _ready(_pods(cluster)[name]), 60)
    lines = cluster.kubectl("logs", "-n", "kube-system", name, "--tail=3").stdout.splitlines()
    stamped = cluster.kubectl("logs", "-n", "kube-system", name, "--tail=1", "--timestamps").stdout
    journal = cluster.ssh("h2", "journalctl _SYSTEMD_UNIT=kprov-apiserver.service -o cat --no-pager -n 500")
    assert len(lines) == 3 and all(line in journal for line in lines), (lines, journal[-2000:])
    assert stamped.split(" ", 1)[0].endswith("Z") and stamped.split(" ", 1)[1].strip() in journal
    previous = cluster.kubectl("logs", "-n", "kube-system", name, "--previous", check=False)
    assert previous.returncode != 0
    assert f'previous terminated container "kube-apiserver" in pod "{name}" not found' in previous.stderr
