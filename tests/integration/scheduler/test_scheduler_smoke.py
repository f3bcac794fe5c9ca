from __future__ import annotations

import asyncio
from pathlib import Path

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.scheduler import Scheduler
from tests.integration.controllers.hollow import create_node, ensure_namespace, simple_pod, wait_for


async def test_smoke(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with (
        ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin,
        ApiClient.from_kubeconfig(control_plane.scheduler_kubeconfig()) as sched_client,
    ):
        await ensure_namespace(admin, "smoke")
        await create_node(admin, "smoke-n1", cpu="2", labels={"pool": "smoke"})
        sched = Scheduler(sched_client, "smoke-scheduler")  # leaves other tests' pods alone
        task = asyncio.create_task(sched.run())
        try:
            for name, cpu in (("p1", "1"), ("p2", "1500m")):
                pod = simple_pod(name, "smoke", cpu=cpu, nodeSelector={"pool": "smoke"})
                pod["spec"]["schedulerName"] = "smoke-scheduler"
                await admin.create(resources.PODS, pod)

            async def bound() -> str:
                pod = await admin.get(resources.PODS, "p1", "smoke")
                return pod["spec"].get("nodeName", "")

            assert await wait_for(bound, 10) == "smoke-n1"

            async def failed() -> str:
                pod = await admin.get(resources.PODS, "p2", "smoke")
                conds = [
                    c for c in pod.get("status", {}).get("conditions", []) if c["type"] == "PodScheduled"
                ]
                return conds[0]["message"] if conds else ""

            message = await wait_for(failed, 10)
            assert "1 Insufficient cpu" in message
        finally:
            await admin.delete(resources.NODES, "smoke-n1")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
