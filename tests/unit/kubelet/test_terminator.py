"""The terminator on its own: the order containers stop in (app first, then sidecars in
reverse), the kubelet failing a pod (deadline, eviction) without deleting it, and a deleted
pod's end: final status, everything removed, the object deleted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.pods.terminator import deadline_left
from tests.unit.kubelet.fakes import TERMINATING_IMAGE, kubelet_world, terminating_pod

IMAGE = TERMINATING_IMAGE
_pod = terminating_pod
_world = kubelet_world


def test_deadline_left() -> None:
    started = {"status": {"startTime": "2026-01-01T00:00:00Z"}}
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    assert deadline_left({"spec": {}, **started}, t0) is None
    assert deadline_left({"spec": {"activeDeadlineSeconds": 30}}, t0) is None  # not started
    assert deadline_left({"spec": {"activeDeadlineSeconds": 30}, **started}, t0 + 10) == 20.0
    left = deadline_left({"spec": {"activeDeadlineSeconds": 30}, **started}, t0 + 31)
    assert left is not None and left < 0


async def test_app_containers_stop_before_sidecars_in_reverse_order(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    sidecars = [{"name": n, "image": IMAGE, "restartPolicy": "Always"} for n in ("log", "proxy")]
    worker = PodWorker(ctx, _pod(initContainers=sidecars))
    for _ in range(3):  # one sidecar per sync, then the app
        await worker.sync()
    ids = {name: runtime.named(name)[-1].id for name in ("log", "proxy", "app")}
    runtime.calls.clear()
    await worker.terminator.stop_in_order(await worker.runtime.listed(), 3)
    assert runtime.calls == [f"stop {ids['app']}", f"stop {ids['proxy']}", f"stop {ids['log']}"]


async def test_past_the_deadline_the_pod_fails_and_stays(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    worker = PodWorker(ctx, _pod(activeDeadlineSeconds=30))
    await worker.sync()
    started = worker.pod["status"]["startTime"]
    assert started and runtime.named("app")[-1].state == "running"
    woken: list[float] = []
    ctx.wall_clock = lambda: 1767225600.0
    worker.pod["status"]["startTime"] = "2026-01-01T00:00:00Z"
    assert not await worker.terminator.past_deadline(woken.append)
    assert woken == [30.0]
    ctx.wall_clock = lambda: 1767225600.0 + 31
    assert await worker.terminator.past_deadline(woken.append)
    assert runtime.named("app")[-1].state == "exited"
    assert (worker.pod["status"]["phase"], worker.pod["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    await asyncio.sleep(0)  # events are recorded in the background
    assert ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline") in api.events
    assert api.deleted == [] and not any(s.ready for s in runtime.sandboxes.values())


async def test_terminate_removes_everything_and_deletes_the_object(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    pod = _pod()
    worker = PodWorker(ctx, pod)
    await worker.sync()
    worker.update({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}})
    await worker.terminator.terminate(False, asyncio.Event())
    await asyncio.sleep(0)  # events are recorded in the background
    assert api.statuses[-1]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert runtime.containers == {} and runtime.sandboxes == {}
    assert api.deleted == ["uid-1"] and ("Killing", "Stopping pod containers (grace period 3s)") in api.events
