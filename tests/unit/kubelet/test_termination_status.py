"""A deleted pod's status as watchers see it: still Ready while its containers run (upstream's
readiness during termination: a terminating endpoint keeps serving), then the final terminated
states, Ready=False and phase before the object goes; a hostNetwork pod's IP is its node's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.pods.probes import READINESS
from tests.unit.kubelet.fakes import TERMINATING_IMAGE, kubelet_world, terminating_pod

IMAGE = TERMINATING_IMAGE
_pod = terminating_pod
_world = kubelet_world


def _ready(status: dict[str, Any]) -> str:
    return next(c["status"] for c in status["conditions"] if c["type"] == "Ready")


async def test_deleted_pod_stays_ready_until_its_containers_stop(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    pod = _pod()
    worker = PodWorker(ctx, pod)
    await worker.sync()
    assert _ready(api.statuses[-1]) == "True"
    written = len(api.statuses)
    worker.update({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}})
    views = worker.status.views(pod["spec"]["containers"], await worker.runtime.containers(worker.pod))
    assert [(v.ready, v.started) for v in views] == [(True, True)]  # no readiness probe: ready
    await worker.terminate()
    (final,) = api.statuses[written:]  # nothing changed before the signal: no write
    assert _ready(final) == "False" and final["phase"] == "Failed"  # killed: exit 137
    assert final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert api.deleted == ["uid-1"]


async def test_a_pod_gone_from_the_api_gets_no_status_writes(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    worker = PodWorker(ctx, _pod())
    await worker.sync()
    written = len(api.statuses)
    worker.mark_gone()
    await worker.terminate()
    assert len(api.statuses) == written and api.deleted == []


async def test_host_network_pod_has_its_nodes_ip(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    original = runtime.run_sandbox

    async def no_ip(config: Any, runtime_handler: str = "") -> str:
        sid = await original(config, runtime_handler)
        from dataclasses import replace

        runtime.sandboxes[sid] = replace(runtime.sandboxes[sid], ip="")
        return sid

    runtime.run_sandbox = no_ip  # type: ignore[method-assign]
    await PodWorker(ctx, _pod(hostNetwork=True)).sync()
    assert api.statuses[-1]["podIP"] == "10.77.0.11"
    assert api.statuses[-1]["podIPs"] == [{"ip": "10.77.0.11"}]


async def test_deleted_pod_keeps_its_readiness_probes_verdict(tmp_path: Path) -> None:
    ctx, runtime, api = _world(tmp_path)
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 3600}
    pod = _pod(containers=[{"name": "app", "image": IMAGE, "readinessProbe": probe}])
    worker = PodWorker(ctx, pod)
    await worker.sync()
    worker.update({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}})
    (cur,) = (await worker.runtime.containers(worker.pod))["app"][:1]
    container = pod["spec"]["containers"][0]
    for verdict in (True, False):
        worker.probes.results[(cur.id, READINESS)] = verdict
        assert worker.probes.flags(container, cur) == (verdict, True)


async def test_a_readiness_probe_failing_during_the_grace_period_is_written_at_once(tmp_path: Path) -> None:
    """Upstream's e2e: readiness goes false while the pod terminates, before its containers stop."""
    ctx, runtime, api = _world(tmp_path)
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 3600}
    pod = _pod(containers=[{"name": "app", "image": IMAGE, "readinessProbe": probe}])
    worker = PodWorker(ctx, pod)
    await worker.sync()
    (cur,) = (await worker.runtime.containers(worker.pod))["app"][:1]
    worker.probes.on_result(cur.id, READINESS, True, "")
    await worker.sync()
    assert _ready(api.statuses[-1]) == "True"
    release = asyncio.Event()
    stop = runtime.stop_container

    async def slow_stop(container_id: str, timeout_s: int) -> None:
        await release.wait()  # the container honours SIGTERM slowly
        await stop(container_id, timeout_s)

    runtime.stop_container = slow_stop  # type: ignore[method-assign]
    worker.update({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}})
    terminating = asyncio.ensure_future(worker.terminate())
    await asyncio.sleep(0.05)
    written = len(api.statuses)
    worker.probes.on_result(cur.id, READINESS, False, "")  # the app failed its probe after SIGTERM
    for _ in range(100):
        if len(api.statuses) > written:
            break
        await asyncio.sleep(0.01)
    assert len(api.statuses) == written + 1 and _ready(api.statuses[-1]) == "False"
    assert not terminating.done()  # still within its grace period
    release.set()
    await terminating
    assert api.deleted == ["uid-1"]


async def test_the_final_status_waits_for_the_runtime_to_record_an_exit(tmp_path: Path) -> None:
    """containerd answers StopContainer for a task that exited before it records the exit:
    its status reads running a moment longer. The final status must not show that."""
    ctx, runtime, api = _world(tmp_path)
    pod = _pod()
    worker = PodWorker(ctx, pod)
    await worker.sync()
    (cid,) = runtime.containers
    stop = runtime.stop_container
    stale_reads = [3]

    async def stop_late(container_id: str, timeout_s: int) -> None:  # the exit lands 3 reads later
        original_list = runtime.list_containers

        async def listing(labels: dict[str, str] | None = None) -> list[Any]:
            if stale_reads[0] > 0:
                stale_reads[0] -= 1
                return await original_list(labels)
            runtime.list_containers = original_list  # type: ignore[method-assign]
            await stop(container_id, timeout_s)
            return await original_list(labels)

        runtime.list_containers = listing  # type: ignore[method-assign]

    runtime.stop_container = stop_late  # type: ignore[method-assign]
    worker.update({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}})
    await worker.terminate()
    final = api.statuses[-1]
    assert "terminated" in final["containerStatuses"][0]["state"], final
    assert stale_reads == [0] and api.deleted == ["uid-1"] and cid not in runtime.containers
