"""Preemption against the real API server: on a full node a pod of higher priority gets the
node nominated, the lower-priority pod gets DisruptionTarget and is deleted, and the
preemptor is bound there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kprov.cluster.api.objects import get_condition
from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.scheduler import Scheduler
from tests.integration.controllers.hollow import create_node, ensure_namespace, simple_pod, wait_for

NS = "preempt"


@pytest.fixture
async def admin(control_plane) -> AsyncIterator[ApiClient]:  # type: ignore[no-untyped-def]
    async with (
        ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as client,
        ApiClient.from_kubeconfig(control_plane.scheduler_kubeconfig()) as own,
    ):
        sched = Scheduler(own, "sched-preempt")
        task = asyncio.create_task(sched.run())
        try:
            yield client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _pod(name: str, priority_class: str) -> dict:
    pod = simple_pod(name, NS, cpu="800m", nodeSelector={"pool": NS}, priorityClassName=priority_class)
    pod["spec"]["schedulerName"] = "sched-preempt"
    return pod


async def test_high_priority_pod_preempts_a_low_one(admin: ApiClient) -> None:
    await ensure_namespace(admin, NS)
    for name, value in (("preempt-low", 10), ("preempt-high", 1000)):
        await admin.create(resources.PRIORITY_CLASSES, {"metadata": {"name": name}, "value": value})
    await create_node(admin, "preempt-node", cpu="1", labels={"pool": NS})
    await admin.create(resources.PODS, _pod("low", "preempt-low"))

    async def bound(name: str) -> str:
        return (await admin.get(resources.PODS, name, NS))["spec"].get("nodeName", "")

    assert await wait_for(lambda: bound("low"), 15, what="low bound") == "preempt-node"
    await admin.create(resources.PODS, _pod("high", "preempt-high"))

    async def victim_marked() -> dict | None:
        try:
            pod = await admin.get(resources.PODS, "low", NS)
        except NotFound:
            return {"gone": True}
        if not pod["metadata"].get("deletionTimestamp"):
            return None
        cond = get_condition(pod, "DisruptionTarget")
        assert cond is not None and cond["reason"] == "PreemptionByScheduler"
        await admin.delete(resources.PODS, "low", NS, grace_period_seconds=0)  # as its kubelet would
        return pod

    await wait_for(victim_marked, 20, what="the low-priority pod preempted")
    high = await admin.get(resources.PODS, "high", NS)
    assert high["status"].get("nominatedNodeName") == "preempt-node" or high["spec"].get("nodeName")
    assert await wait_for(lambda: bound("high"), 20, what="high bound") == "preempt-node"
    await admin.delete(resources.NODES, "preempt-node")
