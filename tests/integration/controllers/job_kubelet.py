"""A stand-in for kubelets in Job tests: every pod of a namespace runs for ``run_s`` and
then ends, Succeeded (exit 0) or, when its image's tag is a number (``exit:42``), Failed
with that exit code; pods being deleted are removed as a kubelet would (a finalizer keeps
them until its owner releases them). It remembers the most pods it saw running at once."""

from __future__ import annotations

import asyncio
import contextlib
import time

from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.client.errors import ApiError


def _exit_code(pod: dict) -> int:
    image = pod["spec"]["containers"][0].get("image", "")
    tag = image.rsplit(":", 1)[-1]
    return int(tag) if tag.isdigit() else 0


class JobKubelet:
    def __init__(self, client: ApiClient, namespace: str, run_s: float = 0.5) -> None:
        self.client = client
        self.namespace = namespace
        self.run_s = run_s
        self.max_running = 0
        self.seen: set[str] = set()
        self._started: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _finish(self, pod: dict) -> None:
        code = _exit_code(pod)
        stamp = now_rfc3339()
        name = pod["spec"]["containers"][0]["name"]
        status = {
            **(pod.get("status") or {}),
            "phase": "Failed" if code else "Succeeded",
            "containerStatuses": [
                {
                    "name": name,
                    "ready": False,
                    "restartCount": 0,
                    "image": pod["spec"]["containers"][0].get("image", ""),
                    "imageID": "",
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": "Error" if code else "Completed",
                            "finishedAt": stamp,
                        }
                    },
                }
            ],
        }
        await self.client.update_status(resources.PODS, {**pod, "status": status})

    async def sync_once(self) -> None:
        items, _ = await self.client.list_all(resources.PODS, self.namespace)
        running = 0
        now = time.monotonic()
        for pod in items:
            meta = pod["metadata"]
            try:
                if meta.get("deletionTimestamp"):
                    if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                        with contextlib.suppress(NotFound):
                            await self.client.delete(
                                resources.PODS, meta["name"], self.namespace, grace_period_seconds=0
                            )
                    continue
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                running += 1
                self.seen.add(meta["name"])
                started = self._started.setdefault(meta["uid"], now)
                if now - started >= self.run_s:
                    await self._finish(pod)
            except ApiError:
                continue
        self.max_running = max(self.max_running, running)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(ApiError, OSError):
                await self.sync_once()
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
