"""Lifecycle hooks and termination messages: the pod worker over the in-memory runtime."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.api.objects import parse_time
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING
from kprov.cluster.kubelet.pods.lifecycle import termination_file, termination_message
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.volumes.pod_volumes import pod_dir
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime

IMAGE = "kprov.local/busybox:1"


def _pod(**container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": {"restartPolicy": "Always", "terminationGracePeriodSeconds": 9,
                 "containers": [{"name": "app", "image": IMAGE, **container}]},
    }


@pytest.fixture
def world(tmp_path: Path) -> tuple[KubeletContext, FakeRuntime, FakeApi]:
    runtime, api = FakeRuntime(), FakeApi()
    ctx = KubeletContext(
        runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11", wall_clock=lambda: 10_000.0
    )
    return ctx, runtime, api


async def test_a_post_start_hook_runs_right_after_the_container_starts(world: Any) -> None:
    ctx, runtime, api = world
    worker = PodWorker(ctx, _pod(lifecycle={"postStart": {"exec": {"command": ["touch", "/started"]}}}))
    await worker.sync()
    app = runtime.named("app")[0]
    assert app.state == CONTAINER_RUNNING
    assert runtime.calls == [f"exec {app.id} touch /started"]
    assert api.statuses[-1]["containerStatuses"][0]["state"].get("running") is not None


async def test_a_failed_post_start_hook_kills_the_container_and_says_why(world: Any) -> None:
    ctx, runtime, api = world
    runtime.exec_exit["false"] = 1
    worker = PodWorker(ctx, _pod(lifecycle={"postStart": {"exec": {"command": ["false"]}}}))
    await worker.sync()
    app = runtime.named("app")[0]
    assert app.state == CONTAINER_EXITED and runtime.stopped_with[app.id] == 0
    await asyncio.sleep(0.01)  # events are written in the background
    reasons = dict(api.events)
    assert "FailedPostStartHook" in reasons
    assert reasons["FailedPostStartHook"].startswith("Exec lifecycle hook ([false]) for Container failed")


async def test_pre_stop_runs_before_the_stop_signal_when_the_pod_is_deleted(world: Any) -> None:
    ctx, runtime, _ = world
    pod = _pod(lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "drain"]}}})
    worker = PodWorker(ctx, pod)
    await worker.sync()
    app = runtime.named("app")[0].id
    runtime.calls.clear()
    await worker.terminate()
    assert runtime.calls == [f"exec {app} sh -c drain", f"stop {app}"]
    assert runtime.stopped_with[app] == 9  # the hook took no time: the whole grace period is left


@pytest.mark.parametrize("path", [None, "/tmp/custom-message"])
async def test_each_attempt_gets_a_termination_file_and_its_message_shows_when_it_exits(
    world: Any, path: str | None
) -> None:
    ctx, runtime, api = world
    container = {"terminationMessagePath": path} if path else {}
    pod = _pod(**container)
    pod["spec"]["restartPolicy"] = "Never"
    worker = PodWorker(ctx, pod)
    await worker.sync()
    app = runtime.named("app")[0]
    mounts = dict(ast.literal_eval(app.annotations["mounts"]))
    host = termination_file(pod_dir(ctx.root_dir, "uid-1"), "app", 0)
    assert mounts[path or "/dev/termination-log"] == str(host)
    assert host.stat().st_mode & 0o777 == 0o666  # a non-root user may write it
    host.write_text("all done")
    runtime.exit(app.id, 0)
    await worker.sync()
    terminated = api.statuses[-1]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["message"] == "all done"


def test_fallback_to_logs_only_after_a_failure_with_an_empty_file(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_text("".join(f"2026-11-22T10:00:00.000000000Z stdout F line {i}\n" for i in range(100)))
    empty = tmp_path / "msg"
    empty.write_text("")
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    message = termination_message(fallback, empty, 1, str(log))
    assert message.splitlines()[0] == "line 20" and message.splitlines()[-1] == "line 99"  # the last 80
    assert termination_message(fallback, empty, 0, str(log)) == ""  # succeeded: no fallback
    assert termination_message({}, empty, 1, str(log)) == ""  # policy File: no fallback
    empty.write_text("from the file")
    assert termination_message(fallback, empty, 1, str(log)) == "from the file"


async def test_a_native_sidecar_starts_first_keeps_running_and_the_pod_completes_with_its_app(
    world: Any,
) -> None:
    ctx, runtime, api = world
    pod = _pod(command=["work"])
    pod["spec"]["restartPolicy"] = "Never"
    pod["spec"]["initContainers"] = [
        {"name": "proxy", "image": IMAGE, "restartPolicy": "Always"},
        {"name": "setup", "image": IMAGE},
    ]
    worker = PodWorker(ctx, pod)
    await worker.sync()
    assert [c.name for c in runtime.containers.values()] == ["proxy"]
    await worker.sync()  # the sidecar runs: the next init container may start, the sidecar stays
    assert runtime.named("setup") and runtime.named("proxy")[0].state == CONTAINER_RUNNING
    runtime.exit(runtime.named("setup")[0].id, 0)
    await worker.sync()
    app = runtime.named("app")[0]
    assert app.state == CONTAINER_RUNNING
    status = api.statuses[-1]
    assert status["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Initialized"] == "True" and conditions["Ready"] == "True"
    sidecar = next(s for s in status["initContainerStatuses"] if s["name"] == "proxy")
    assert "running" in sidecar["state"] and sidecar["started"] is True

    runtime.exit(runtime.named("proxy")[0].id, 1)  # the sidecar dies: restarted, the app untouched
    await worker.sync()
    assert [c.attempt for c in runtime.named("proxy")] == [0, 1]
    assert runtime.named("app")[0].state == CONTAINER_RUNNING

    runtime.exit(app.id, 0)  # the app is done: so is the pod, sidecar or not
    runtime.calls.clear()
    await worker.sync()
    assert api.statuses[-1]["phase"] == "Succeeded"
    proxy = max(runtime.named("proxy"), key=lambda c: c.attempt)
    assert runtime.calls == [f"stop {proxy.id}"]  # its own stop signal, not just the sandbox's end
    for status in api.statuses:  # never reported terminal while the sidecar still ran
        if status["phase"] == "Succeeded":
            shown = next(s for s in status["initContainerStatuses"] if s["name"] == "proxy")
            assert "terminated" in shown["state"]
    assert not next(iter(runtime.sandboxes.values())).ready


async def test_deletion_stops_apps_first_then_sidecars_in_reverse_order_each_after_its_pre_stop(
    world: Any,
) -> None:
    ctx, runtime, _ = world
    hook = {"preStop": {"exec": {"command": ["drain"]}}}
    pod = _pod(lifecycle=hook)
    pod["spec"]["initContainers"] = [
        {"name": "first", "image": IMAGE, "restartPolicy": "Always", "lifecycle": hook},
        {"name": "second", "image": IMAGE, "restartPolicy": "Always"},
    ]
    worker = PodWorker(ctx, pod)
    for _ in range(3):
        await worker.sync()
    ids = {name: runtime.named(name)[0].id for name in ("first", "second", "app")}
    assert all(runtime.named(name)[0].state == CONTAINER_RUNNING for name in ids)
    runtime.calls.clear()
    await worker.terminate()
    assert runtime.calls == [
        f"exec {ids['app']} drain", f"stop {ids['app']}",
        f"stop {ids['second']}",
        f"exec {ids['first']} drain", f"stop {ids['first']}",
    ]


async def test_a_pod_past_its_active_deadline_is_stopped_and_failed(world: Any) -> None:
    ctx, runtime, api = world
    pod = _pod()
    pod["spec"]["activeDeadlineSeconds"] = 30
    worker = PodWorker(ctx, pod)
    await worker.sync()
    app = runtime.named("app")[0]
    started = api.statuses[-1]["startTime"]
    assert app.state == CONTAINER_RUNNING
    ctx.wall_clock = lambda: parse_time(started).timestamp() + 10
    await worker.sync()  # within the deadline: nothing happens
    assert runtime.named("app")[0].state == CONTAINER_RUNNING
    ctx.wall_clock = lambda: parse_time(started).timestamp() + 31
    await worker.sync()
    status = api.statuses[-1]
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    assert runtime.named("app")[0].state == CONTAINER_EXITED


async def test_a_liveness_kill_runs_pre_stop_within_the_probes_grace_period(world: Any) -> None:
    from kprov.cluster.kubelet.pods.probes import LIVENESS

    ctx, runtime, _ = world
    probe = {"exec": {"command": ["check"]}, "initialDelaySeconds": 3600, "terminationGracePeriodSeconds": 4}
    pod = _pod(livenessProbe=probe, lifecycle={"preStop": {"exec": {"command": ["drain"]}}})
    worker = PodWorker(ctx, pod)
    await worker.sync()
    app = runtime.named("app")[0].id
    runtime.calls.clear()
    worker.probes.on_result(app, LIVENESS, False, "probe failed")
    try:
        await worker.sync()
    finally:
        worker.probes.stop(set())
    assert runtime.calls[:2] == [f"exec {app} drain", f"stop {app}"]
    assert runtime.stopped_with[app] == 4  # the probe's grace period, not the pod's 9 s


def test_fallback_to_logs_keeps_output_that_ended_without_a_newline_as_it_was(tmp_path: Path) -> None:
    # `echo -n DONE; false`: the runtime logs DONE as a partial record (tag P); the message is
    # "DONE", not "DONE\n" (the conformance spec on FallbackToLogsOnError compares exactly)
    log = tmp_path / "0.log"
    log.write_text("2026-11-22T10:00:00.000000000Z stdout F first\n"
                   "2026-11-22T10:00:01.000000000Z stdout P DO\n"
                   "2026-11-22T10:00:01.000000000Z stdout P NE\n")
    empty = tmp_path / "msg"
    empty.write_text("")
    message = termination_message({"terminationMessagePolicy": "FallbackToLogsOnError"}, empty, 1, str(log))
    assert message == "first\nDONE"
