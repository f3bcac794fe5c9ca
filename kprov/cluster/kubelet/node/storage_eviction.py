"""The kubelet's local-storage eviction: every 10 s, each running pod with an
ephemeral-storage limit or an emptyDir sizeLimit is measured, and one over a limit is evicted.

Only pods with such limits are measured (a walk of their writable layers, logs and
emptyDirs, in a worker thread so the event loop never waits on the disk); the verdict is
:func:`kprov.cluster.kubelet.pods.local_storage.violation`'s, the eviction the pod worker's
(:meth:`PodWorker.evict`: containers killed at once, phase Failed, reason Evicted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kprov.cluster.kubelet.cri.client import CRIClient, CRIError
from kprov.cluster.kubelet.node.disk_usage import dir_bytes, upper_dirs
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.local_storage import StorageUsage, limits_of, violation
from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.volumes.pod_volumes import pod_dir

__all__ = ["LocalStorageEviction"]

log = logging.getLogger(__name__)


class LocalStorageEviction:
    def __init__(self, runtime: CRIClient, root_dir: Path, workers: Callable[[], Iterable[PodWorker]],
                 interval_s: float = 10.0, mountinfo: Path = Path("/proc/self/mountinfo")) -> None:
        self._runtime = runtime
        self._root = root_dir
        self._workers = workers
        self._interval = interval_s
        self._mountinfo = mountinfo

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:  # a measurement that failed waits for the next round
                log.exception("local storage check failed")

    async def check(self) -> None:
        candidates = [(worker, limits) for worker in self._workers() if worker.running
                      and (limits := limits_of(worker.pod))]
        if not candidates:
            return
        uppers = upper_dirs(await asyncio.to_thread(self._mountinfo.read_text))
        for worker, limits in candidates:
            usage = await self._usage(worker, uppers)
            message = violation(limits, usage)
            if message is not None:
                log.info("pod %s: evicted: %s", worker.uid, message)
                worker.evict(message)

    async def _usage(self, worker: PodWorker, uppers: Mapping[str, str]) -> StorageUsage:
        containers: dict[str, int] = {}
        for listed in await self._runtime.list_containers({L.POD_UID: worker.uid}):
            try:
                status = await self._runtime.container_status(listed.id)
            except CRIError:
                continue
            paths = [p for p in (uppers.get(listed.id), status.log_path) if p]
            used = await asyncio.to_thread(dir_bytes, paths)
            containers[listed.name] = containers.get(listed.name, 0) + used
        base = pod_dir(self._root, worker.uid) / "volumes" / "emptyDir"
        empty_dirs = {}
        for volume in (worker.pod.get("spec") or {}).get("volumes") or []:
            empty_dir = volume.get("emptyDir")
            if isinstance(empty_dir, dict) and empty_dir.get("medium") != "Memory":
                name = str(volume.get("name", ""))
                empty_dirs[name] = await asyncio.to_thread(dir_bytes, [base / name])
        return StorageUsage(containers, empty_dirs)
