"""Local ephemeral storage: the limits read from a pod, the verdict on measured usage with
upstream's messages, the measurement of writable layers and emptyDirs, and the eviction."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.node.disk_usage import dir_bytes, upper_dirs
from kprov.cluster.kubelet.node.storage_eviction import LocalStorageEviction
from kprov.cluster.kubelet.pods.local_storage import StorageUsage, limits_of, violation
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime

IMAGE = "kprov.local/busybox:1"
MIB = 2**20


def _pod(
    limit: str | None = "5Mi", size_limit: str | None = None, *, memory_volume: bool = True
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": IMAGE}
    if limit:
        container["resources"] = {"limits": {"ephemeral-storage": limit}}
    empty_dir: dict[str, Any] = {"sizeLimit": size_limit} if size_limit else {}
    volumes: list[dict[str, Any]] = [{"name": "scratch", "emptyDir": empty_dir}]
    if memory_volume:  # (a pod worker that syncs it mounts a real tmpfs, which outlives the test)
        volumes.append({"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": {"containers": [container], "restartPolicy": "Never", "volumes": volumes},
    }


def test_the_first_limit_exceeded_names_the_eviction() -> None:
    limits = limits_of(_pod("5Mi", "2Mi"))
    assert set(limits.empty_dirs) == {"scratch"}  # a memory-backed emptyDir is not disk
    assert violation(limits, StorageUsage({"app": 1 * MIB}, {"scratch": 1 * MIB})) is None
    assert violation(limits, StorageUsage({"app": 1 * MIB}, {"scratch": 3 * MIB})) == (
        'Usage of EmptyDir volume "scratch" exceeds the limit "2Mi". ')
    assert violation(limits, StorageUsage({"app": 4 * MIB}, {"scratch": 2 * MIB})) == (
        "Pod ephemeral local storage usage exceeds the total limit of containers 5Mi. ")
    two = _pod("5Mi")
    two["spec"]["containers"].append({"name": "side", "image": IMAGE,
                                      "resources": {"limits": {"ephemeral-storage": "1Mi"}}})
    assert violation(limits_of(two), StorageUsage({"app": 1 * MIB, "side": 2 * MIB}, {})) == (
        'Container side exceeded its local ephemeral storage limit "1Mi". ')
    assert violation(limits_of(two), StorageUsage({"app": 5 * MIB, "side": 2 * MIB}, {})) == (
        "Pod ephemeral local storage usage exceeds the total limit of containers 6Mi. ")
    assert not limits_of(_pod(None))


def test_writable_layers_come_from_the_mount_table_and_sizes_are_allocated_blocks(tmp_path: Path) -> None:
    mountinfo = (
        "4587 210 0:220 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw,relatime "
        "shared:1 - overlay overlay rw,lowerdir=/l/1/fs,upperdir=/u/282/fs,workdir=/u/282/work\n"
        "30 1 0:25 / /sys rw - sysfs sysfs rw\n"
    )
    assert upper_dirs(mountinfo) == {"abc": "/u/282/fs"}
    (tmp_path / "d").mkdir()
    with open(tmp_path / "d" / "big", "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, 3 * MIB)  # as `fallocate -l`: allocated, never written
    assert 3 * MIB <= dir_bytes([tmp_path / "d", tmp_path / "gone"]) < 3 * MIB + 64 * 1024


async def test_a_pod_over_its_limit_is_evicted_and_stays_failed(tmp_path: Path) -> None:
    runtime, api = FakeRuntime(), FakeApi()
    ctx = KubeletContext(runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11")
    worker = PodWorker(ctx, _pod("5Mi", memory_volume=False))
    await worker.sync()
    (cid,) = runtime.containers
    upper = tmp_path / "upper"
    upper.mkdir()
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"1 1 0:1 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}/rootfs rw - "
                         f"overlay overlay rw,upperdir={upper},workdir=/w\n")
    eviction = LocalStorageEviction(runtime, tmp_path, lambda: [worker], mountinfo=mountinfo)
    (upper / "small").write_bytes(b"x" * 1024)
    await eviction.check()
    assert worker.running
    with open(upper / "file", "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, 10 * MIB)
    await eviction.check()
    assert not worker.running
    message = "Pod ephemeral local storage usage exceeds the total limit of containers 5Mi. "
    await worker.terminator.evict(message)
    final = api.statuses[-1]
    assert (final["phase"], final["reason"]) == ("Failed", "Evicted")
    assert final["message"] == "Pod ephemeral local storage usage exceeds the total limit of containers 5Mi. "
    target = next(c for c in final["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "TerminationByKubelet")
    assert "terminated" in final["containerStatuses"][0]["state"]
    await asyncio.sleep(0)  # (events are sent by their own tasks)
    assert runtime.stopped_with[cid] == 0 and ("Evicted", final["message"]) in api.events
    await worker.sync()  # a Failed pod is not started again
    assert list(runtime.containers) == [cid]


class _WatchDuringWrite(FakeApi):
    """An API whose watch delivers the pod object (with the status it had) while a status
    write is on its way, as a busy API server's watch does."""

    def __init__(self) -> None:
        super().__init__()
        self.worker: PodWorker | None = None

    async def write_pod_status(self, pod: Any, status: dict[str, Any]) -> None:
        await super().write_pod_status(pod, status)
        if self.worker is not None:
            self.worker.update({**self.worker.pod, "status": dict(self.worker.pod.get("status") or {})})


async def test_an_evicted_pod_stays_failed_when_the_watch_replaces_it_during_the_write(
    tmp_path: Path,
) -> None:
    runtime, api = FakeRuntime(), _WatchDuringWrite()
    ctx = KubeletContext(runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11")
    worker = PodWorker(ctx, _pod("5Mi", memory_volume=False))
    await worker.sync()
    (cid,) = runtime.containers
    api.worker = worker
    await worker.terminator.evict("over its ephemeral-storage limit")
    assert worker.pod["status"]["phase"] == "Failed"  # the object the worker holds now
    await worker.sync()  # the conformance spec's evicted pod was restarted here (restartPolicy Always)
    assert list(runtime.containers) == [cid]
    assert api.statuses[-1]["phase"] == "Failed"
