"""The product, end to end: `kprov apply` takes 5 bare lab hosts to a verified cluster.

One cold apply per package (conftest). Then: verify passes, a second apply changes
nothing, kubectl works from this machine, the cluster rides out an etcd member, a leader,
an API server, a worker and a reboot going away, an interrupted apply converges on the
next run, a worker dropped from the inventory is drained and removed (and rejoins when
listed again). Tests run in file order and share the cluster. (That reset leaves no kprov unit
or directory on a 3 + 2 host cluster is tests/e2e/ha/test_api_endpoint.py's reset test, on
the HA package's cluster of the same shape: one reset of 5 hosts less in CI, decisions 0062.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from typing import Any

import pytest
import yaml

from tests.e2e.cluster.conftest import KPROV, Cluster, changed_count, failures, wait_for

pytestmark = pytest.mark.lab

WORKERS = ["h4", "h5"]


def _ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def test_verify_passes_after_apply(cluster: Cluster) -> None:
    proc = cluster.kprov("verify", "-i", str(cluster.inventory), "--json")
    report = json.loads(proc.stdout)
    failed = [f"{c['scope']}: {c['name']}: {c['detail']}" for c in report["checks"] if not c["ok"]]
    assert proc.returncode == 0 and report["ok"], "\n".join(failed)
    names = {c["name"] for c in report["checks"]}
    assert "etcd quorum" in names and any(n.startswith("NodePort") for n in names)


def test_second_apply_changes_nothing(cluster: Cluster) -> None:
    report = cluster.apply()
    assert report["ok"], failures(report)
    changed = [f"{r['host']}: {r['task']}" for r in report["results"] if r["status"] == "changed"]
    assert changed_count(report) == 0, changed


def test_pidof_kubelet_finds_the_one_kubelet(cluster: Cluster) -> None:
    # Node tools and upstream's mount-propagation spec find the kubelet by its name.
    for host in ("h1", "h4"):
        main_pid = cluster.ssh(host, "systemctl show -p MainPID --value kprov-kubelet")
        assert cluster.ssh(host, "pidof kubelet") == main_pid != "0"


def test_kubectl_from_the_operator_machine(cluster: Cluster) -> None:
    path = cluster.kprov("kubeconfig", "-i", str(cluster.inventory)).stdout.strip()
    assert path == str(cluster.kubeconfig)
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["h1", "h2", "h3", "h4", "h5"]
    assert all(_ready(n) for n in nodes)


def test_writes_go_on_with_one_etcd_member_stopped(cluster: Cluster) -> None:
    # h1's member: the first in every API server's --etcd-servers, so each must move on
    cluster.ssh("h1", "systemctl stop kprov-etcd")
    try:
        for i in range(5):
            cluster.kubectl("create", "configmap", f"while-h1-etcd-down-{i}", "--from-literal=i=1")
        listed = cluster.kubectl_json("get", "configmaps")["items"]
        assert {f"while-h1-etcd-down-{i}" for i in range(5)} <= {c["metadata"]["name"] for c in listed}
        for host in ("h1", "h2", "h3"):  # every API server still reads and writes
            cluster.kubectl("create", "configmap", f"via-{host}", via=host)
    finally:
        cluster.ssh("h1", "systemctl start kprov-etcd")


@pytest.mark.parametrize("component", ["kube-scheduler", "kube-controller-manager"])
def test_killing_the_leader_moves_the_lease(cluster: Cluster, component: str) -> None:
    def holder() -> str:
        lease = cluster.kubectl_json("get", "lease", component, "-n", "kube-system")
        return str(lease["spec"].get("holderIdentity") or "")

    old = wait_for(f"a {component} leader", holder, 30)
    host = old.split("_")[0].split(".")[0]
    assert host in ("h1", "h2", "h3"), old
    unit = "kprov-scheduler" if component == "kube-scheduler" else "kprov-controller-manager"
    cluster.ssh(host, f"systemctl kill -s KILL {unit}")
    start = time.monotonic()
    new = wait_for(f"a new {component} leader", lambda: (h := holder()) != old and h, 25, 0.5)
    assert new != old and time.monotonic() - start <= 25


def test_an_api_server_down_leaves_kubectl_and_kubelets_working(cluster: Cluster) -> None:
    def api_endpoints(via: str) -> list[str]:
        endpoints = cluster.kubectl_json("get", "endpoints", "kubernetes", "-n", "default", via=via)
        return sorted(a["ip"] for s in endpoints.get("subsets") or [] for a in s.get("addresses") or [])

    cluster.ssh("h1", "systemctl stop kprov-apiserver")
    try:
        other = "h2"  # kubectl goes on through the admin kubeconfig's context for h2's API server

        def renew_times() -> dict[str, str]:
            leases = cluster.kubectl_json("get", "leases", "-n", "kube-node-lease", via=other)["items"]
            return {le["metadata"]["name"]: le["spec"]["renewTime"] for le in leases}

        before = renew_times()
        assert len(before) == 5

        def renewed() -> bool:
            now = renew_times()
            return all(now.get(name) != before[name] for name in before)

        wait_for("every kubelet to renew its lease through another API server", renewed, 40)
        nodes = cluster.kubectl_json("get", "nodes", via=other)["items"]
        assert all(_ready(n) for n in nodes)
        wait_for("h1 out of the kubernetes Service's endpoints",
                 lambda: api_endpoints(other) == sorted(cluster.lab.ip(h) for h in ("h2", "h3")), 30)
    finally:
        cluster.ssh("h1", "systemctl start kprov-apiserver")
    wait_for("h1's API server back",
             lambda: cluster.kubectl("get", "--raw", "/readyz", check=False).returncode == 0, 60)
    wait_for("h1 back in the kubernetes Service's endpoints",
             lambda: len(api_endpoints("h2")) == 3, 30)


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    tolerations = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
                   for k in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "tolerations": tolerations,
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": WORKERS}]}]}}},
                "containers": [{"name": "sleep", "image": "kprov.local/busybox:1",
                                "imagePullPolicy": "IfNotPresent", "command": ["sleep", "100000"]}],
            }}},
    }


def _running_on(cluster: Cluster, app: str) -> dict[str, str]:
    pods = cluster.kubectl_json("get", "pods", "-l", f"app={app}")["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


def _ready_pods(cluster: Cluster, app: str) -> int:
    pods = cluster.kubectl_json("get", "pods", "-l", f"app={app}")["items"]
    return sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))


class _ReadyCounter(threading.Thread):
    """Counts an app's ready pods every half second until stopped."""

    def __init__(self, cluster: Cluster, app: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.app = cluster, app
        self.counts: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                self.counts.append(_ready_pods(self.cluster, self.app))
            except Exception:  # noqa: BLE001 - a failed sample is not a count
                continue


@pytest.mark.long
def test_a_rebooted_worker_comes_back_ready_with_its_pods(cluster: Cluster, tmp_path) -> None:
    manifest = tmp_path / "dep.json"
    dep = _deployment("rebooter", 1)
    dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = ["h4"]
    manifest.write_text(json.dumps(dep))
    cluster.kubectl("apply", "-f", str(manifest))
    wait_for("a running pod on h4", lambda: list(_running_on(cluster, "rebooter").values()) == ["h4"], 120)
    boot_id = cluster.ssh("h4", "cat /proc/sys/kernel/random/boot_id")
    cluster.lab.ssh("h4", "systemctl reboot")
    wait_for("h4 rebooted", lambda: cluster.lab.ssh("h4", "cat /proc/sys/kernel/random/boot_id")[1].strip()
             not in ("", boot_id) or None, 120, 2)
    wait_for("h4 Ready", lambda: _ready(cluster.kubectl_json("get", "node", "h4")), 120)
    wait_for("the pod running on h4 again",
             lambda: list(_running_on(cluster, "rebooter").values()) == ["h4"], 180)
    cluster.kubectl("delete", "deployment", "rebooter", "--wait=false")


def test_an_interrupted_apply_converges_on_the_next_run(cluster: Cluster) -> None:
    changed = "etcd_heartbeat_interval=150"
    proc = subprocess.Popen([*KPROV, "apply", "-i", str(cluster.inventory), "--json", "-e", changed],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(12)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    report = cluster.apply()
    assert report["ok"], failures(report)
    again = cluster.apply()
    assert again["ok"] and changed_count(again) == 0
    # (no drift check: the real run just above changed nothing, which says more than check mode)
    proc = cluster.kprov("verify", "-i", str(cluster.inventory), "--json", "--no-smoke", "--no-drift")
    assert json.loads(proc.stdout)["ok"], proc.stdout[-3000:]


def test_a_worker_left_out_is_drained_and_removed_and_rejoins_when_listed_again(cluster: Cluster,
                                                                               tmp_path) -> None:
    manifest = tmp_path / "dep.json"
    manifest.write_text(json.dumps(_deployment("mover", 4)))
    cluster.kubectl("apply", "-f", str(manifest))
    try:  # replicas spread over both workers by the scheduler's default topology spreading
        wait_for("4 running pods on h4 and h5",
                 lambda: len(pods := _running_on(cluster, "mover")) == 4
                 and set(pods.values()) == {"h4", "h5"}, 120)
    except AssertionError as exc:
        pods = cluster.kubectl_json("get", "pods", "-l", "app=mover")["items"]
        seen = [(p["metadata"]["name"], p["spec"].get("nodeName"), p["status"].get("phase")) for p in pods]
        raise AssertionError(f"{exc}; pods: {seen}") from None
    # a budget of 3 of the 4: the drain may evict h5's second pod only once the first one's
    # replacement is ready on h4 (the Eviction API answers 429 meanwhile)
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "mover"},
              "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "mover"}}}}
    (tmp_path / "pdb.json").write_text(json.dumps(budget))
    cluster.kubectl("apply", "-f", str(tmp_path / "pdb.json"))
    wait_for("the budget allows 1 disruption", lambda: cluster.kubectl_json(
        "get", "pdb", "mover").get("status", {}).get("disruptionsAllowed") == 1, 60)
    listed = cluster.inventory.read_text()
    doc = yaml.safe_load(listed)
    del doc["all"]["children"]["workers"]["hosts"]["h5"]  # h5 stays a host, no longer a node
    cluster.inventory.write_text(yaml.safe_dump(doc))
    counter = _ReadyCounter(cluster, "mover")
    try:
        counter.start()
        try:
            report = cluster.apply()
        finally:
            counter.done.set()
            counter.join()
        assert len(counter.counts) > 5 and min(counter.counts) >= 3, counter.counts  # the budget held
        assert report["ok"], failures(report)
        [removal] = report["removed_nodes"]
        assert removal["node"] == "h5" and removal["deleted"] and removal["host_cleared"], removal
        assert not removal["problems"] and removal["evicted"], removal
        nodes = cluster.kubectl_json("get", "nodes")["items"]
        assert sorted(n["metadata"]["name"] for n in nodes) == ["h1", "h2", "h3", "h4"]
        wait_for("the 4 pods all running on h4",
                 lambda: (pods := _running_on(cluster, "mover")) and len(pods) == 4
                 and set(pods.values()) == {"h4"}, 120)
        assert cluster.ssh("h5", "systemctl is-active kprov-kubelet kprov-proxy containerd || true").split() \
            == ["inactive"] * 3
        assert cluster.ssh("h5", "ls /etc/kprov/kubelet.conf /etc/systemd/system/kprov-kubelet.service "
                                 "2>/dev/null || true") == ""
        assert cluster.ssh("h5", "systemctl is-active kprov-etcd || true") == "inactive"  # never was one
        assert "active" not in cluster.ssh("h5", "systemctl is-active haproxy keepalived || true").split()
        # no kubelet credential left (its client key was valid a year), no service kprov installed
        assert cluster.ssh("h5", "ls /etc/kprov/pki/kubelet.key /etc/kprov/pki/kubelet.crt 2>/dev/null; "
                                 "grep -rls client-key-data /etc/kprov /var/lib/kprov; true") == ""
        assert cluster.ssh("h5", "systemctl list-units --state=active --plain --no-legend 'kprov-*' "
                                 "containerd.service haproxy.service keepalived.service") == ""
        lease = cluster.kubectl("get", "lease", "-n", "kube-node-lease", "h5", check=False)
        assert lease.returncode != 0 and "NotFound" in lease.stderr  # revoked with its Node
        again = cluster.apply()
        assert again["ok"] and changed_count(again) == 0 and "removed_nodes" not in again
    finally:
        cluster.inventory.write_text(listed)
    report = cluster.apply()
    assert report["ok"], failures(report)
    changed_hosts = {r["host"] for r in report["results"] if r["status"] == "changed"}
    assert changed_hosts == {"h5"}, changed_hosts  # joining touches only the new node
    wait_for("h5 Ready again", lambda: _ready(cluster.kubectl_json("get", "node", "h5")), 120)
    cluster.kubectl("delete", "deployment,pdb", "mover", "--wait=false")
