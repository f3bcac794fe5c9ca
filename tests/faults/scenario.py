"""One fault scenario, end to end: workload on, faults injected, held, healed, then the checks.

``run_scenario`` returns plain figures (a :class:`ScenarioResult`); the e2e test asserts on
them and tests/bench/bench_faults.py prints them. ``while_faulted`` runs while the faults
last (the e2e test runs ``kprov verify`` there: it must name the fault). With
``replica_set``, a churned ReplicaSet (replicaset_probe.py) runs beside the ConfigMap writer:
it must never have more active pods than its replicas, and converge after the heal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kprov.cluster.client import ApiClient, ApiError, load_kubeconfig, resources
from kprov.lab import Lab
from tests.faults.checks import gap_resumes, hashkv, lost_writes, wait_nodes_ready, watch_gaps
from tests.faults.injectors import Fault
from tests.faults.replicaset_probe import ReplicaSetProbe
from tests.faults.workload import Workload

__all__ = ["ScenarioResult", "etcd_leader_recovery_s", "run_scenario"]


@dataclass
class ScenarioResult:
    name: str
    faults: list[str]
    acknowledged: int = 0
    failed_requests: int = 0
    lost: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    gap_resumes: list[str] = field(default_factory=list)  # per gap, the resume that passed it
    # the watch's resumes after its first (a broken or ended stream), by what set the
    # resourceVersion it resumed from: event, bookmark, relist
    resumes: dict[str, int] = field(default_factory=dict)
    out_of_order: list[str] = field(default_factory=list)
    relists: int = 0
    shared_revisions: int = 0
    api_unavailable_s: float = 0.0
    nodes_ready_s: float = 0.0
    hashes: dict[str, int] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    replica_set: str = ""  # the probe's summary, when one ran
    replica_set_over: list[str] = field(default_factory=list)  # views with more active pods than replicas

    @property
    def hashes_agree(self) -> bool:
        return len(set(self.hashes.values())) == 1

    def summary(self) -> str:
        return (f"{self.name}: acknowledged={self.acknowledged} failed_requests={self.failed_requests} "
                f"lost={len(self.lost)} watch_gaps={len(self.gaps)} out_of_order={len(self.out_of_order)} "
                f"relists={self.relists} api_unavailable_s={self.api_unavailable_s:.2f} "
                f"nodes_ready_s={self.nodes_ready_s:.1f} hashkv_equal={self.hashes_agree} "
                + " ".join(f"{k}={v:.2f}" for k, v in self.figures.items())
                + (f" {self.replica_set}" if self.replica_set else ""))


def etcd_leader_recovery_s(lab: Lab, survivors: tuple[str, ...], timeout_s: float = 30) -> float:
    """Seconds until a surviving member reports a leader among the survivors."""
    start = time.monotonic()
    endpoints = ",".join(f"https://{lab.ip(h)}:2379" for h in survivors)
    ips = {lab.ip(h) for h in survivors}
    while time.monotonic() - start < timeout_s:
        rc, out, _ = lab.ssh(survivors[0], "/usr/local/bin/kprov-etcdctl --command-timeout=1s "
                                           f"--endpoints={endpoints} endpoint status -w json", timeout=10)
        if rc == 0:
            statuses = json.loads(out)
            ids = {s["Status"]["header"]["member_id"]: s["Endpoint"] for s in statuses}
            leaders = {s["Status"].get("leader", 0) for s in statuses}  # 0 (omitted): no leader yet
            if len(leaders) == 1 and (leader := leaders.pop()) in ids \
                    and ids[leader].split("//")[1].rsplit(":", 1)[0] in ips:
                return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"no etcd leader among {survivors} within {timeout_s:.0f}s")


async def _delete_namespace(kubeconfig: Path, namespace: str) -> None:
    async with ApiClient(load_kubeconfig(kubeconfig), timeout=10.0) as client:
        with contextlib.suppress(ApiError):
            await client.delete(resources.NAMESPACES, namespace)


def run_scenario(lab: Lab, kubeconfig: Path, name: str, faults: list[Fault], *,
                 etcd_members: tuple[str, ...], nodes: tuple[str, ...], hold_s: float = 5.0,
                 ready_bound_s: float = 180.0, while_faulted: Callable[[], None] | None = None,
                 after_inject: Callable[[], dict[str, float]] | None = None,
                 replica_set: bool = False) -> ScenarioResult:
    """Inject ``faults`` under the workload, hold them ``hold_s``, heal, check."""
    result = ScenarioResult(name, [f.name for f in faults])
    namespace = f"faults-{secrets.token_hex(3)}"
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        probe = stack.enter_context(ReplicaSetProbe(kubeconfig, namespace)) if replica_set else None
        workload = stack.enter_context(Workload(kubeconfig, namespace))
        if probe is not None:
            probe.wait_converged(ready_bound_s)  # its pods Running before any fault
            probe.start_churning()
        time.sleep(1.0)
        injected_at = time.monotonic()
        injected: list[Fault] = []
        try:
            for fault in faults:
                fault.inject(lab)
                injected.append(fault)
            if after_inject is not None:
                result.figures.update(after_inject())
            if while_faulted is not None:
                while_faulted()
            time.sleep(max(0.0, hold_s - (time.monotonic() - injected_at)))
        finally:
            for fault in reversed(injected):
                fault.heal(lab)
        time.sleep(3.0)  # writes after the heal, on the healed cluster
        workload.stop_writing()
        workload.wait_watch_caught_up(60)
        if probe is not None:
            probe.stop_churning()
            result.figures["replicaset_converged_s"] = probe.wait_converged(ready_bound_s)
            result.figures["replicaset_pods_created"] = len(probe.created) - probe.replicas
            result.replica_set, result.replica_set_over = probe.summary(), list(probe.over)
    result.acknowledged = len(workload.acks)
    result.failed_requests = len(workload.failures)
    result.api_unavailable_s = workload.outage_s(since=injected_at)
    result.gaps = watch_gaps(workload.acks, workload.watch)
    result.gap_resumes = gap_resumes(workload.acks, workload.watch)
    for _, source in workload.watch.resumes[1:]:
        result.resumes[source] = result.resumes.get(source, 0) + 1
    result.out_of_order = list(workload.watch.out_of_order)
    result.relists = workload.watch.relists
    result.shared_revisions = workload.watch.shared_revisions
    result.nodes_ready_s = wait_nodes_ready(kubeconfig, nodes, ready_bound_s)
    result.lost = lost_writes(kubeconfig, namespace, workload.acks)
    result.hashes = hashkv(lab, etcd_members)
    asyncio.run(_delete_namespace(kubeconfig, namespace))
    result.duration_s = time.monotonic() - start
    return result
