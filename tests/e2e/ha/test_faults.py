"""Faults survived, and a verify that diagnoses (issue 76), on the HA package's cluster (h1..h3
control plane and etcd, h4 and h5 workers, an API VIP). CI's e2e stage runs 2 and 3; 1, 4 and
5 are marked ``long`` (KPROV_E2E_LONG=1, decision 0062 round 3).

1. One etcd member and one API server (on two other hosts) are killed with SIGKILL under a
   writer through the VIP and a churned ReplicaSet: every acknowledged write is readable with
   its value, the watch saw each of them once and in order, the etcd members' hashkv agree,
   every node is Ready, the ReplicaSet never had more active pods than its replicas; ``kprov
   verify`` while it lasts names each killed unit on its host (down, or restarted by systemd
   moments ago: the kill heals itself within a second).
2. ``kprov verify`` run with its clock before the certificates' start (libfaketime on the
   verify process: the hosts share this machine's kernel clock, which a test must never
   step): no traceback, a non-zero exit, failed rows that say a clock is behind the
   certificate's start with both times; without the fault it is green again.
3. Every host's clock an hour behind (verify run an hour ahead): every host named, the API
   still serving.
4. A worker powered off (the lab host stopped) under a ReplicaSet whose pods tolerate the
   unreachable taint for 30 s: the node is tainted, its pods evicted (DisruptionTarget) and
   replaced on the other worker within the target, never more than the ReplicaSet's
   replicas active at once; powered on, it rejoins Ready and untainted and its kubelet
   finishes the evicted pods (tests/faults/node_loss.py).
5. A worker unplugged (its link down: to the controller, a powered-off host) while ``kprov
   verify`` runs in full (smoke workload and check-mode run included): the host is one failed
   row naming it unreachable and what to do, no other row reaches for it (address or name; its
   node's Ready row from the API aside), and the run takes at most one connect timeout (10 s)
   and a margin longer than a verify of the healthy cluster (before the bound: ~80-140 s,
   every check that reached the host waiting out its own timeout).
6. (opt-in, KPROV_E2E_DISK_FULL=1) A full disk under an etcd follower's data directory: no
   acknowledged write lost, verify names the member and the cause, the member catches up.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time

import pytest
from cryptography import x509

from kprov.lab.network import set_host_link
from tests.e2e.ha.conftest import CONTROL_PLANE, WORKERS, HaCluster
from tests.faults.disk_full import DiskFull
from tests.faults.injectors import FAULTS, UnitKill, faketime_env
from tests.faults.node_loss import UNREACHABLE, run_node_loss
from tests.faults.scenario import run_scenario
from tests.faults.verify_probe import VerifyOutcome, run_verify

NODES_READY_BOUND_S = 120.0
HEALED_GREEN_BOUND_S = 60.0
TOLERATION_S = 30
RESCHEDULED_TARGET_S = 60.0  # issue 76: node_loss_pods_rescheduled_s with tolerationSeconds 30
NODE_LOSS_BOUND_S = 120.0
# verify with one host silent, past a healthy verify: one connect timeout (10 s) and the rows
# after it; any wait on the silent host itself (its smoke pod 120 s, its node 60 s: the
# 132-141 s this replaced) is far over it. A bound on behaviour, with room for a loaded
# machine, not a speed figure (tests/bench has those).
UNREACHABLE_EXTRA_S = 45.0
DISK_RECOVERY_BOUND_S = 120.0


@pytest.mark.long
def test_acknowledged_writes_survive_kill_9_of_an_etcd_member_and_an_api_server(
        ha_cluster: HaCluster) -> None:
    faults = FAULTS["kill-etcd-and-apiserver"](ha_cluster.lab, CONTROL_PLANE, WORKERS)
    seen: list[VerifyOutcome] = []
    result = run_scenario(ha_cluster.lab, ha_cluster.admin_kubeconfig, "kill-etcd-and-apiserver", faults,
                          etcd_members=CONTROL_PLANE, nodes=CONTROL_PLANE + WORKERS, hold_s=4.0,
                          ready_bound_s=NODES_READY_BOUND_S, replica_set=True,
                          while_faulted=lambda: seen.append(run_verify(ha_cluster.inventory)))
    print(result.summary(), f"(nodes Ready bound {NODES_READY_BOUND_S:.0f}s)")
    assert result.acknowledged > 20  # the writer ran through the fault
    assert result.replica_set and not result.replica_set_over, result.replica_set_over[:5]
    assert result.figures["replicaset_pods_created"] >= 2, result.replica_set  # it churned
    assert result.lost == []
    assert result.out_of_order == []
    assert result.hashes_agree, result.hashes
    assert set(result.hashes) == set(CONTROL_PLANE)
    assert not result.gaps, result.gaps[:5]
    faulted = seen[0]
    assert not faulted.traceback and faulted.returncode != 0, faulted.output[-4000:]
    for fault in faults:
        assert isinstance(fault, UnitKill)
        assert any(c["scope"] == fault.host and fault.unit in f"{c['name']} {c['detail']}"
                   for c in faulted.failed), (fault.name, faulted.failed)


def test_verify_names_a_clock_behind_the_certificates_and_is_green_once_healed(ha_cluster: HaCluster) -> None:
    pki = ha_cluster.inventory.parent / "pki"
    start = x509.load_pem_x509_certificate((pki / "apiserver.crt").read_bytes()).not_valid_before_utc
    offset = (start - dt.datetime.now(dt.UTC)).total_seconds() - 3600  # an hour before the start
    faulted = run_verify(ha_cluster.inventory, faketime_env(offset, dict(os.environ, COLUMNS="200")))
    assert not faulted.traceback, faulted.output[-4000:]
    assert faulted.returncode != 0 and not faulted.report["ok"]
    api = [c for c in faulted.failed if c["name"] == f"API server https://{ha_cluster.vip}:8443 ready"]
    assert api, faulted.failed
    detail = api[0]["detail"]
    assert "not yet valid" in detail and "clock reads" in detail and "behind" in detail, detail
    assert start.strftime("%Y-%m-%d %H:%M:%S UTC") in detail  # the certificate's start, and the clock
    clocks = [c for c in faulted.failed if c["name"] == "clock agrees with this machine's"]
    assert {c["scope"] for c in clocks} == set(CONTROL_PLANE + WORKERS)
    assert all("ahead of this machine's" in c["detail"] for c in clocks)
    began = time.monotonic()
    while True:  # healed: green, within a bound (the kill test just before may still be settling)
        healed = run_verify(ha_cluster.inventory)
        assert not healed.traceback, healed.output[-4000:]
        if healed.report["ok"] or time.monotonic() - began > HEALED_GREEN_BOUND_S:
            break
        time.sleep(5)
    print(f"verify under the clock fault {faulted.duration_s:.1f}s; "
          f"green {time.monotonic() - began:.1f}s after healing")
    assert healed.returncode == 0 and healed.report["ok"], healed.failed


@pytest.mark.long
def test_a_worker_powered_off_has_its_pods_evicted_and_replaced_and_rejoins(ha_cluster: HaCluster) -> None:
    began = time.monotonic()
    result = run_node_loss(ha_cluster.lab, ha_cluster.admin_kubeconfig, WORKERS, replicas=2,
                           toleration_s=TOLERATION_S, bound_s=NODE_LOSS_BOUND_S)
    print(result.summary(), f"(test {time.monotonic() - began:.0f}s)")
    assert {f"{UNREACHABLE}:NoSchedule", f"{UNREACHABLE}:NoExecute"} <= set(result.taints)
    assert result.evicted and sorted(result.evicted) == sorted(result.disruption_marked), result
    assert not set(result.evicted) & set(result.replacements)
    assert result.max_active <= result.replicas, result.summary()  # never more than allowed
    # the tolerations' 30 s count from the taint: not before, and the replacements soon after
    assert TOLERATION_S <= result.node_loss_pods_rescheduled_s <= RESCHEDULED_TARGET_S, result.summary()


def test_verify_names_every_host_an_hour_behind_and_the_cluster_keeps_serving(ha_cluster: HaCluster) -> None:
    """Every host's clock an hour behind the operator's (the hosts share this machine's kernel
    clock, which a test must never step: the operator's verify runs an hour ahead instead,
    which is the same skew seen from either side). The hosts agree with each other, so the
    cluster keeps serving; verify must say, per host, that its clock is behind and by how much."""
    faulted = run_verify(ha_cluster.inventory, faketime_env(3600, dict(os.environ, COLUMNS="200")))
    assert not faulted.traceback, faulted.output[-4000:]
    assert faulted.returncode != 0 and not faulted.report["ok"]
    clocks = [c for c in faulted.failed if c["name"] == "clock agrees with this machine's"]
    assert {c["scope"] for c in clocks} == set(CONTROL_PLANE + WORKERS), faulted.failed
    assert all("behind this machine's" in c["detail"] and re.search(r"\b(1h00m\d\ds|59m5\ds)", c["detail"])
               for c in clocks), clocks[:2]
    checks = {c["name"]: c for c in faulted.report["checks"]}
    served = checks.get(f"API server https://{ha_cluster.vip}:8443 ready")
    assert served is not None and served["ok"], served  # the hosts agree: still serving
    print(f"verify with every host 1 h behind: {faulted.duration_s:.1f}s, "
          f"{len(faulted.failed)} failing rows, e.g. {clocks[0]['detail'][:200]}")


@pytest.mark.long
def test_verify_with_a_worker_unplugged_names_it_once_and_costs_one_connect_timeout(
        ha_cluster: HaCluster) -> None:
    """The worker's cable pulled (its link down, as ``kprov lab stop`` leaves a powered-off
    host): to the controller it is a powered-off host, without the shutdown and boot."""
    lost = WORKERS[-1]
    normal = run_verify(ha_cluster.inventory, full=True)
    assert not normal.traceback, normal.output[-4000:]
    set_host_link(ha_cluster.lab.layout, lost, up=False)
    try:
        faulted = run_verify(ha_cluster.inventory, full=True)
    finally:
        set_host_link(ha_cluster.lab.layout, lost, up=True)
    print(f"verify healthy {normal.duration_s:.1f}s, with {lost} unplugged {faulted.duration_s:.1f}s")
    assert not faulted.traceback and faulted.returncode != 0, faulted.output[-4000:]
    rows = faulted.report["checks"]
    own = [c for c in rows if c["scope"] == lost]
    assert len(own) == 1 and own[0]["name"] == "reachable over SSH", own
    found = re.match(r"unreachable: (\S+):22 did not answer", own[0]["detail"])
    assert found and "powered on" in own[0]["detail"], own
    reaching = [c for c in rows if c["scope"] != lost and c["name"] != f"node {lost} Ready"
                and (lost in c["name"] or found.group(1) in c["name"])]
    assert not reaching, reaching
    assert faulted.duration_s <= normal.duration_s + UNREACHABLE_EXTRA_S, (faulted.duration_s,
                                                                           normal.duration_s)
    deadline = time.monotonic() + NODES_READY_BOUND_S  # the next test starts from a Ready worker
    while ha_cluster.kubectl("get", "node", lost, "-o",
                             "jsonpath={.status.conditions[?(@.type=='Ready')].status}").stdout != "True":
        assert time.monotonic() < deadline, f"{lost} not Ready again within {NODES_READY_BOUND_S:.0f}s"
        time.sleep(2)


@pytest.mark.skipif(not os.environ.get("KPROV_E2E_DISK_FULL"), reason="opt-in: KPROV_E2E_DISK_FULL=1")
def test_a_full_disk_under_an_etcd_member_is_named_and_recovered(ha_cluster: HaCluster) -> None:
    faults = FAULTS["disk-full-etcd-follower"](ha_cluster.lab, CONTROL_PLANE, WORKERS)
    disk = faults[0]
    assert isinstance(disk, DiskFull)
    seen: list[VerifyOutcome] = []
    try:
        result = run_scenario(ha_cluster.lab, ha_cluster.admin_kubeconfig, "disk-full-etcd-follower", faults,
                              etcd_members=CONTROL_PLANE, nodes=CONTROL_PLANE + WORKERS, hold_s=10.0,
                              ready_bound_s=NODES_READY_BOUND_S,
                              while_faulted=lambda: seen.append(run_verify(ha_cluster.inventory)))
    finally:
        disk.restore(ha_cluster.lab)
    print(result.summary(), f"disk_full_recovery_s={disk.recovery_s:.1f}", f"while full: {disk.state}")
    assert result.acknowledged > 20 and result.lost == [] and not result.gaps, result.summary()
    assert result.hashes_agree, result.hashes
    faulted = seen[0]
    assert not faulted.traceback, faulted.output[-4000:]
    assert faulted.returncode != 0
    rows = [c for c in faulted.failed if c["scope"] == disk.host and "free space" in c["name"]]
    assert rows and f"etcd member on {disk.host}" in rows[0]["detail"], faulted.failed
    assert 0 < disk.recovery_s < DISK_RECOVERY_BOUND_S
