"""The scheduler against the real API server: FailedScheduling wording and the
PodScheduled condition, retry when the cluster changes, anti-affinity, and no
double-booking while many bindings are in flight."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from kprov.cluster.api.objects import get_condition
from kprov.cluster.client import ApiClient, resources
from kprov.cluster.scheduler import Scheduler
from tests.integration.controllers.hollow import create_node, ensure_namespace, simple_pod, wait_for


@pytest.fixture
async def clients(control_plane) -> AsyncIterator[tuple[ApiClient, Scheduler]]:  # type: ignore[no-untyped-def]
    async with (
        ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin,
        ApiClient.from_kubeconfig(control_plane.scheduler_kubeconfig()) as own,
    ):
        sched = Scheduler(own, "sched-test")  # only pods naming it: other tests' pods are left alone
        task = asyncio.create_task(sched.run())
        try:
            yield admin, sched
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _pod(name: str, ns: str, **kw: object) -> dict:
    pod = simple_pod(name, ns, **kw)  # type: ignore[arg-type]
    pod["spec"]["schedulerName"] = "sched-test"
    return pod


async def _node_of(admin: ApiClient, ns: str, name: str) -> str:
    return (await admin.get(resources.PODS, name, ns))["spec"].get("nodeName", "")


async def test_unschedulable_pod_reports_and_retries_when_a_node_arrives(clients) -> None:  # type: ignore[no-untyped-def]
    admin, _ = clients
    await ensure_namespace(admin, "s1")
    await create_node(admin, "s1-small", cpu="1", labels={"pool": "s1"})
    await create_node(
        admin,
        "s1-tainted",
        cpu="8",
        labels={"pool": "s1"},
        taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
    )
    await admin.create(resources.PODS, _pod("big", "s1", cpu="2", nodeSelector={"pool": "s1"}))

    async def condition() -> dict | None:
        pod = await admin.get(resources.PODS, "big", "s1")
        cond = get_condition(pod, "PodScheduled")
        return cond if cond and cond.get("status") == "False" else None

    cond = await wait_for(condition, 15, what="PodScheduled=False")
    assert cond["reason"] == "Unschedulable"
    # other tests' nodes may exist (they count as selector mismatches): check the shape and our reasons
    shape = r"^0/(\d+) nodes are available: .+\. preemption: 0/\1 nodes are available: .+\.$"
    assert re.match(shape, cond["message"]), cond["message"]
    assert "1 Insufficient cpu" in cond["message"] and "untolerated taint {dedicated: db}" in cond["message"]

    async def event() -> list[dict] | None:
        items, _ = await admin.list_all(resources.EVENTS, "s1")
        failed = [
            e for e in items if e.get("reason") == "FailedScheduling" and e["involvedObject"]["name"] == "big"
        ]
        return failed or None

    events = await wait_for(event, 15, what="a FailedScheduling event")
    assert events[0]["type"] == "Warning" and events[0]["message"] == cond["message"]

    await create_node(admin, "s1-big", cpu="4", labels={"pool": "s1"})
    assert (
        await wait_for(lambda: _node_of(admin, "s1", "big"), 15, what="retry after a node was added")
        == "s1-big"
    )
    for name in ("s1-small", "s1-tainted", "s1-big"):
        await admin.delete(resources.NODES, name)


async def test_anti_affinity_and_no_double_booking(clients) -> None:  # type: ignore[no-untyped-def]
    admin, sched = clients
    await ensure_namespace(admin, "s2")
    for name in ("s2-a", "s2-b"):
        await create_node(admin, name, cpu="4", labels={"pool": "s2"})
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    for i in range(3):
        await admin.create(
            resources.PODS,
            _pod(f"solo-{i}", "s2", labels={"app": "solo"}, affinity=anti, nodeSelector={"pool": "s2"}),
        )
    # 12 pods of 1 cpu for 8 free cpus, created all at once: exactly 8 may land
    await asyncio.gather(
        *(
            admin.create(resources.PODS, _pod(f"cpu-{i}", "s2", cpu="1", nodeSelector={"pool": "s2"}))
            for i in range(12)
        )
    )

    async def settled() -> list[dict] | None:
        items, _ = await admin.list_all(resources.PODS, "s2")
        bound = [p for p in items if p["spec"].get("nodeName")]
        failed = [p for p in items if (get_condition(p, "PodScheduled") or {}).get("status") == "False"]
        return items if len(bound) + len(failed) == 15 else None

    items = await wait_for(settled, 30, what="every pod bound or reported unschedulable")
    solo_nodes = [p["spec"].get("nodeName") for p in items if p["metadata"]["name"].startswith("solo")]
    assert sorted(n for n in solo_nodes if n) == ["s2-a", "s2-b"]
    loser = next(
        p for p in items if p["metadata"]["name"].startswith("solo") and not p["spec"].get("nodeName")
    )
    # the placed pods carry the same anti-affinity, so the symmetric rule is the one reported first
    message = get_condition(loser, "PodScheduled")["message"]
    assert "2 node(s) didn't satisfy existing pods anti-affinity rules" in message
    per_node = Counter(
        p["spec"]["nodeName"]
        for p in items
        if p["metadata"]["name"].startswith("cpu") and p["spec"].get("nodeName")
    )
    assert per_node == {"s2-a": 4, "s2-b": 4}
    for name in ("s2-a", "s2-b"):
        await admin.delete(resources.NODES, name)
