"""A stand-in for kubelets in controller tests: every pod of a namespace (bound or not)
is reported Running/Ready with an IP, and pods being deleted are removed, as a kubelet
would after their containers stop. ``not_ready`` names pods to report as not ready."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.client.errors import ApiError
from tests.integration.controllers.hollow import mark_running


class FakeKubelet:
    def __init__(self, client: ApiClient, namespace: str, only_bound: bool = False) -> None:
        self.client = client
        self.namespace = namespace
        self.only_bound = only_bound
        self.not_ready: set[str] = set()
        self.dead_nodes: set[str] = set()
        self._ips = (f"10.244.{i // 250}.{i % 250 + 2}" for i in itertools.count())
        self._task: asyncio.Task[None] | None = None

    async def sync_once(self) -> None:
        items, _ = await self.client.list_all(resources.PODS, self.namespace)
        for pod in items:
            node = pod["spec"].get("nodeName")
            if node in self.dead_nodes or (self.only_bound and not node):
                continue
            name = pod["metadata"]["name"]
            try:
                if pod["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(NotFound):
                        await self.client.delete(resources.PODS, name, self.namespace, grace_period_seconds=0)
                    continue
                want_ready = name not in self.not_ready
                conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
                is_ready = conds.get("Ready") == "True"
                if pod.get("status", {}).get("phase") != "Running" or is_ready != want_ready:
                    ip = pod.get("status", {}).get("podIP") or next(self._ips)
                    await mark_running(self.client, pod, ip, ready=want_ready)
            except ApiError:
                continue

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(ApiError, OSError):
                await self.sync_once()
            await asyncio.sleep(0.3)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
