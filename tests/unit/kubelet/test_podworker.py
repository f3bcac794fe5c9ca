from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING
from kprov.cluster.kubelet.pods.containers import go_duration, grpc_error_text
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime

IMAGE = "kprov.local/busybox:1"


def make_pod(restart: str = "Always", **spec: Any) -> dict[str, Any]:
    base = {
        "restartPolicy": restart,
        "terminationGracePeriodSeconds": 7,
        "containers": [{"name": "app", "image": IMAGE, "command": ["sleep", "1"]}],
    }
    base.update(spec)
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"}, "spec": base}


@pytest.fixture
def world(tmp_path: Path) -> tuple[KubeletContext, FakeRuntime, FakeApi, dict[str, float]]:
    runtime, api = FakeRuntime(), FakeApi({"cm/cfg": {"metadata": {"name": "cfg"}, "data": {"k": "v"}}})
    clock = {"now": 10_000.0}
    ctx = KubeletContext(
        runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11", wall_clock=lambda: clock["now"]
    )
    return ctx, runtime, api, clock


async def test_first_sync_runs_sandbox_init_then_app_containers(world: Any) -> None:
    ctx, runtime, api, _ = world
    pod = make_pod(
        initContainers=[{"name": "setup", "image": IMAGE}],
        containers=[
            {
                "name": "app",
                "image": IMAGE,
                "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}],
            }
        ],
    )
    worker = PodWorker(ctx, pod)
    await worker.sync()
    assert len(runtime.sandboxes) == 1
    assert [c.name for c in runtime.containers.values()] == ["setup"]  # app waits for init
    assert api.statuses[-1]["phase"] == "Pending"
    assert api.statuses[-1]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    runtime.exit(runtime.named("setup")[0].id, 0)
    await worker.sync()
    app = runtime.named("app")
    assert len(app) == 1 and app[0].state == CONTAINER_RUNNING
    assert "('K', 'v')" in app[0].annotations["env"]
    status = api.statuses[-1]
    assert status["phase"] == "Running" and status["podIP"].startswith("10.244.")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "True"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


async def test_crash_restarts_with_backoff_and_counts_attempts(world: Any) -> None:
    ctx, runtime, api, clock = world
    worker = PodWorker(ctx, make_pod())
    await worker.sync()
    runtime.exit(runtime.named("app")[0].id, 1)
    await worker.sync()  # first restart is immediate
    assert [c.attempt for c in runtime.named("app")] == [0, 1]
    runtime.exit(runtime.named("app")[1].id, 1)
    clock["now"] = runtime.clock_ns / 1e9 + 1
    await worker.sync()  # second crash inside the 10 s back-off: wait
    status = api.statuses[-1]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    await asyncio.sleep(0)  # events are recorded in the background
    assert ("Started", "Started container app") in api.events
    assert any(reason == "BackOff" for reason, _ in api.events)
    assert status["restartCount"] == 1 and status["lastState"]["terminated"]["exitCode"] == 1
    assert len(runtime.named("app")) == 2
    clock["now"] += 10
    await worker.sync()
    assert [c.attempt for c in runtime.named("app")] == [1, 2]  # oldest pruned, attempt counting on
    assert api.statuses[-1]["containerStatuses"][0]["restartCount"] == 2


@pytest.mark.parametrize(
    ("policy", "code", "restarts", "phase"),
    [
        ("Never", 1, False, "Failed"),
        ("OnFailure", 0, False, "Succeeded"),
        ("OnFailure", 3, True, "Running"),
    ],
)
async def test_restart_policies(world: Any, policy: str, code: int, restarts: bool, phase: str) -> None:
    ctx, runtime, api, _ = world
    worker = PodWorker(ctx, make_pod(policy))
    await worker.sync()
    runtime.exit(runtime.named("app")[0].id, code)
    await worker.sync()
    assert (len(runtime.named("app")) == 2) is restarts
    assert api.statuses[-1]["phase"] == phase
    sandbox_ready = next(iter(runtime.sandboxes.values())).ready
    assert sandbox_ready is (phase == "Running")  # a finished pod releases its sandbox


async def test_new_worker_adopts_running_containers(world: Any) -> None:
    ctx, runtime, api, _ = world
    await PodWorker(ctx, make_pod()).sync()
    before = dict(runtime.containers)
    adopted = PodWorker(ctx, make_pod())  # a restarted kubelet: nothing in memory
    await adopted.sync()
    assert runtime.containers == before and len(runtime.sandboxes) == 1
    assert api.statuses[-1]["containerStatuses"][0]["state"].get("running")


async def test_missing_image_and_missing_config(world: Any) -> None:
    ctx, runtime, api, clock = world
    worker = PodWorker(
        ctx,
        make_pod(
            containers=[
                {"name": "app", "image": "kprov.local/nope:1"},
                {"name": "never", "image": "kprov.local/nope:1", "imagePullPolicy": "Never"},
                {"name": "cfg", "image": IMAGE, "envFrom": [{"secretRef": {"name": "absent"}}]},
            ]
        ),
    )
    await worker.sync()
    reasons = {s["name"]: s["state"]["waiting"]["reason"] for s in api.statuses[-1]["containerStatuses"]}
    assert reasons == {
        "app": "ErrImagePull",
        "never": "ErrImageNeverPull",
        "cfg": "CreateContainerConfigError",
    }
    clock["now"] += 5  # before the retry is due, a wake-up tries nothing again
    await worker.sync()
    reasons = {s["name"]: s["state"]["waiting"]["reason"] for s in api.statuses[-1]["containerStatuses"]}
    assert reasons["app"] == "ErrImagePull" and runtime.pulls == 1
    clock["now"] += 11  # upstream's pod worker retries after 10 s plus up to 50 %: past the
    await worker.sync()  # image's first 10 s back-off, so it is pulled again (next back-off 20 s)
    assert runtime.pulls == 2
    clock["now"] += 16
    await worker.sync()
    reasons = {s["name"]: s["state"]["waiting"]["reason"] for s in api.statuses[-1]["containerStatuses"]}
    assert reasons["app"] == "ImagePullBackOff"
    assert api.statuses[-1]["phase"] == "Pending"


async def test_image_pull_failure_speaks_upstreams_words(world: Any) -> None:
    ctx, runtime, api, clock = world
    image = "kprov.local/nope:1"
    worker = PodWorker(ctx, make_pod(containers=[{"name": "app", "image": image}]))
    await worker.sync()
    await asyncio.sleep(0)  # events are recorded in the background
    (status,) = api.statuses[-1]["containerStatuses"]
    error = f"rpc error: code = Unknown desc = failed to resolve {image}: no registry reachable"
    assert status["state"]["waiting"] == {"reason": "ErrImagePull", "message": error}
    assert api.events[-3:] == [
        ("Pulling", f'Pulling image "{image}"'),
        ("Failed", f'Failed to pull image "{image}": {error}'),
        ("Failed", "Error: ErrImagePull"),
    ]
    clock["now"] += 15  # the retry pulls again (past the first 10 s of back-off) ...
    await worker.sync()
    clock["now"] += 15  # ... and the next one is inside the doubled back-off
    await worker.sync()
    await asyncio.sleep(0)
    (status,) = api.statuses[-1]["containerStatuses"]
    backoff = f'Back-off pulling image "{image}"'
    assert status["state"]["waiting"] == {"reason": "ImagePullBackOff", "message": backoff}
    assert api.events[-2:] == [("BackOff", backoff), ("Failed", "Error: ImagePullBackOff")]


async def test_present_image_is_reported_already_present(world: Any) -> None:
    ctx, runtime, api, _ = world
    await PodWorker(ctx, make_pod()).sync()
    await asyncio.sleep(0)
    assert ("Pulled", f'Container image "{IMAGE}" already present on machine') in api.events


def test_go_duration_and_grpc_text() -> None:
    assert [go_duration(s) for s in (0.0004, 0.5129, 1.0, 1.2345, 61.5, 3725.0)] == [
        "0s", "512ms", "1s", "1.234s", "1m1.5s", "1h2m5s"
    ]
    err = CRIError("PullImage", "NOT_FOUND", 'failed to pull and unpack image "x": not found')
    expected = 'rpc error: code = NotFound desc = failed to pull and unpack image "x": not found'
    assert grpc_error_text(err) == expected


async def test_terminate_stops_with_grace_removes_everything_and_deletes(world: Any) -> None:
    ctx, runtime, api, _ = world
    pod = make_pod()
    worker = PodWorker(ctx, pod)
    await worker.sync()
    cid = runtime.named("app")[0].id
    worker.update(
        {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now", "deletionGracePeriodSeconds": 4}}
    )
    await worker.terminate()
    assert runtime.stopped_with[cid] == 4
    assert runtime.containers == {} and runtime.sandboxes == {}
    assert api.deleted == ["uid-1"]
    assert not (ctx.root_dir / "pods" / "uid-1").exists()


async def test_status_is_written_only_when_it_changes(world: Any) -> None:
    ctx, runtime, api, _ = world
    worker = PodWorker(ctx, make_pod())
    await worker.sync()  # the new sandbox's address first, then the started containers
    await worker.sync()
    await worker.sync()
    assert len(api.statuses) == 2
    runtime.exit(runtime.named("app")[0].id, 0)
    await worker.sync()  # exited and restarted: the status changes, so it is written again
    assert len(api.statuses) == 3
    assert runtime.named("app")[0].state == CONTAINER_EXITED


async def test_stale_watch_objects_do_not_reset_start_time(world: Any) -> None:
    ctx, runtime, api, _ = world
    pod = make_pod()
    worker = PodWorker(ctx, pod)
    await worker.sync()
    first = api.statuses[-1]
    written = len(api.statuses)
    worker.update({**pod, "status": {}})  # an event from before our write
    await worker.sync()
    assert len(api.statuses) == written and worker.pod["status"]["startTime"] == first["startTime"]


async def test_the_pod_ip_is_published_before_any_container_starts(world: Any) -> None:
    """NetworkPolicy agents drop a pod-CIDR address they do not know; a postStart hook that
    needs the network blocks the sync, so the address must be in the API before it runs."""
    ctx, runtime, api, _ = world
    worker = PodWorker(ctx, make_pod())
    await worker.sync()
    early = api.statuses[0]
    assert early["podIP"] and early["podIPs"] == [{"ip": early["podIP"]}]
    assert all("running" not in c["state"] for c in early.get("containerStatuses") or []), early
    assert early["phase"] == "Pending"
    assert len(api.statuses) == 2 and api.statuses[1]["podIP"] == early["podIP"]


async def test_ephemeral_container_starts_once_in_its_targets_pid_namespace(world: Any) -> None:
    ctx, runtime, api, _ = world
    pod = make_pod(restart="Always")
    worker = PodWorker(ctx, pod)
    await worker.sync()
    app = runtime.named("app")[0]
    assert app.annotations["pid"] == "CONTAINER:"
    assert "ephemeralContainerStatuses" not in api.statuses[-1]
    pod["spec"]["ephemeralContainers"] = [
        {"name": "dbg", "image": IMAGE, "targetContainerName": "app", "command": ["sh"]}
    ]
    worker.update(pod)
    await worker.sync()
    dbg = runtime.named("dbg")
    assert len(dbg) == 1 and dbg[0].state == CONTAINER_RUNNING
    assert dbg[0].annotations["pid"] == f"TARGET:{app.id}"
    status = api.statuses[-1]
    assert status["ephemeralContainerStatuses"][0]["name"] == "dbg"
    assert "running" in status["ephemeralContainerStatuses"][0]["state"]
    assert status["phase"] == "Running"
    runtime.exit(dbg[0].id, 0)
    await worker.sync()  # an ephemeral container is never restarted, whatever the pod's policy
    assert len(runtime.named("dbg")) == 1
    status = api.statuses[-1]
    assert status["ephemeralContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert status["phase"] == "Running"


async def test_a_missing_config_map_key_is_retried_every_10_s_whatever_wakes_the_worker(world: Any) -> None:
    ctx, runtime, api, clock = world
    env = [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "absent"}}}]
    worker = PodWorker(ctx, make_pod(containers=[{"name": "app", "image": IMAGE, "env": env}]))
    worker.starter.random = lambda: 0.0  # no jitter: retries exactly every 10 s
    for _ in range(60):  # woken every second for a minute (status echoes, probes, resyncs)
        await worker.sync()
        clock["now"] += 1
    await asyncio.sleep(0)
    failed = [message for reason, message in api.events if reason == "Failed"]
    assert len(failed) == 6  # t = 0, 10, ..., 50
    assert set(failed) == {"Error: couldn't find key absent in ConfigMap ns/cfg"}
    (status,) = api.statuses[-1]["containerStatuses"]
    assert status["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert not runtime.containers


async def test_a_pull_error_after_a_missing_configmap_shows_as_the_pull_error(world: Any) -> None:
    """The worker and its container starter share one table of waiting reasons: a reason the
    starter records after a volume's ConfigError is the one the status shows."""
    ctx, runtime, api, _ = world
    volume = {"name": "v", "configMap": {"name": "late"}}
    pod = make_pod(containers=[{"name": "app", "image": "nowhere.example/app:1"}], volumes=[volume])
    worker = PodWorker(ctx, pod)
    await worker.sync()
    reason = api.statuses[-1]["containerStatuses"][0]["state"]["waiting"]["reason"]
    assert reason == "CreateContainerConfigError"
    api.objects["cm/late"] = {"metadata": {"name": "late"}, "data": {"k": "v"}}
    await worker.sync()
    assert api.statuses[-1]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
