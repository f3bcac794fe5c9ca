"""Two kprov-scheduler processes: one leads; killing it (SIGKILL, no lease release) makes
the other take over within 15 s, and no pod is ever bound twice."""

from __future__ import annotations

import contextlib
import signal
from collections import Counter
from pathlib import Path

from kprov.cluster.client import ApiClient, NotFound, resources
from tests.integration.controllers.failover import holder, process_for, wait_new_holder
from tests.integration.controllers.hollow import (
    create_node,
    ensure_namespace,
    simple_pod,
    start_component,
    stop_component,
    wait_for,
)

# The scheduler runs as itself (system:kube-scheduler), whose bootstrap role may only get and
# update a lease named kube-scheduler (as upstream's): its own namespace keeps it apart.
LEASE, LEASE_NAMESPACE = "kube-scheduler", "fo"


async def test_scheduler_failover(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = (
        "--scheduler-name=failover-scheduler",
        f"--leader-elect-resource-name={LEASE}",
        f"--leader-elect-resource-namespace={LEASE_NAMESPACE}",
        "--leader-elect-lease-duration=6s",
        "--leader-elect-renew-deadline=4s",
        "--leader-elect-retry-period=1s",
    )
    kubeconfig = control_plane.scheduler_kubeconfig()
    procs = [
        start_component("kprov.cluster.scheduler", kubeconfig, tmp_path, f"sched{i}", *args) for i in (1, 2)
    ]
    try:
        async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
            await ensure_namespace(admin, "fo")
            await create_node(admin, "fo-n1", cpu="64", labels={"pool": "fo"})

            async def create(prefix: str) -> None:
                for i in range(10):
                    pod = simple_pod(f"{prefix}-{i}", "fo", cpu="100m", nodeSelector={"pool": "fo"})
                    pod["spec"]["schedulerName"] = "failover-scheduler"
                    await admin.create(resources.PODS, pod)

            async def all_bound(n: int) -> bool:
                items, _ = await admin.list_all(resources.PODS, "fo")
                return len(items) == n and all(p["spec"].get("nodeName") for p in items)

            async def scheduled_events(n: int) -> Counter[str] | None:
                events, _ = await admin.list_all(resources.EVENTS, "fo")
                counts = Counter(
                    e["involvedObject"]["name"] for e in events if e.get("reason") == "Scheduled"
                )
                return counts if len(counts) == n else None

            leader = await wait_for(lambda: holder(admin, LEASE, LEASE_NAMESPACE), 20, what="a leader")
            await create("before")
            await wait_for(lambda: all_bound(10), 20, what="10 pods bound by the first leader")
            # events are written in the background, after the bindings: a SIGKILL would drop
            # the ones still queued (as with kube-scheduler), so let them out first
            await wait_for(lambda: scheduled_events(10), 20, what="the first leader's Scheduled events")

            victim = process_for(procs, leader)
            victim.send_signal(signal.SIGKILL)
            victim.wait(5)
            await create("after")
            new_leader, took = await wait_new_holder(admin, LEASE, leader, 20, LEASE_NAMESPACE)
            assert took < 15, f"takeover took {took:.1f}s"
            assert process_for(procs, new_leader).poll() is None
            await wait_for(lambda: all_bound(20), 30, what="pods created during the failover bound")

            # wait for every pod's Scheduled event; no pod may have two (none was bound twice)
            scheduled = await wait_for(lambda: scheduled_events(20), 20, what="a Scheduled event per pod")
            assert set(scheduled.values()) == {1}, scheduled
    finally:
        for proc in procs:
            stop_component(proc)
        async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
            with contextlib.suppress(NotFound):
                await admin.delete(resources.NODES, "fo-n1")
