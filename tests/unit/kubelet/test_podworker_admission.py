"""The pod worker's side of upstream's node conformance: init container statuses and the
pod conditions' reasons, subPathExpr waiting for its variable, sysctls (rejected or handed
to the sandbox) and the RuntimeClass handler of the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime

IMAGE = "kprov.local/busybox:1"


def make_pod(restart: str = "Always", **spec: Any) -> dict[str, Any]:
    base = {"restartPolicy": restart, "containers": [{"name": "run1", "image": IMAGE}]}
    base.update(spec)
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"}, "spec": base}


@pytest.fixture
def world(tmp_path: Path) -> tuple[KubeletContext, FakeRuntime, FakeApi, dict[str, float]]:
    runtime, api = FakeRuntime(), FakeApi()
    clock = {"now": 10_000.0}
    ctx = KubeletContext(
        runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11", wall_clock=lambda: clock["now"]
    )
    return ctx, runtime, api, clock


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


INITS = [{"name": "init1", "image": IMAGE}, {"name": "init2", "image": IMAGE}]


async def test_completed_init_containers_are_ready_and_conditions_say_why(world: Any) -> None:
    ctx, runtime, api, _ = world
    worker = PodWorker(ctx, make_pod("Never", initContainers=INITS))
    await worker.sync()
    initialized = conditions(api.statuses[-1])["Initialized"]
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")
    assert initialized["message"] == "containers with incomplete status: [init1 init2]"
    ready = conditions(api.statuses[-1])["Ready"]
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [run1]"
    for name in ("init1", "init2"):
        runtime.exit(runtime.named(name)[0].id, 0)
        await worker.sync()
    runtime.exit(runtime.named("run1")[0].id, 0)
    await worker.sync()
    status = api.statuses[-1]
    assert status["phase"] == "Succeeded"
    assert [(s["ready"], s["state"]["terminated"]["exitCode"]) for s in status["initContainerStatuses"]] == [
        (True, 0),
        (True, 0),
    ]
    conds = conditions(status)
    assert (conds["Initialized"]["status"], conds["Initialized"]["reason"]) == ("True", "PodCompleted")
    ready = conds["ContainersReady"]
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")
    assert "message" not in conds["Ready"]


async def test_a_failing_init_container_keeps_the_pod_pending_and_uninitialized(world: Any) -> None:
    ctx, runtime, api, clock = world
    worker = PodWorker(ctx, make_pod("Always", initContainers=INITS))
    await worker.sync()
    runtime.exit(runtime.named("init1")[0].id, 1)
    await worker.sync()  # restarted at once
    runtime.exit(runtime.named("init1")[1].id, 1)
    clock["now"] = runtime.clock_ns / 1e9 + 1
    await worker.sync()  # back-off
    status = api.statuses[-1]
    init1, init2 = status["initContainerStatuses"]
    assert init1["state"]["waiting"]["reason"] == "CrashLoopBackOff" and init1["ready"] is False
    assert init1["lastState"]["terminated"]["exitCode"] == 1
    assert init2["state"]["waiting"]["reason"] == "PodInitializing"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert status["phase"] == "Pending"
    assert conditions(status)["Initialized"]["message"] == "containers with incomplete status: [init1 init2]"


async def test_subpath_expr_waits_for_its_variable_then_starts(world: Any) -> None:
    ctx, runtime, api, _ = world
    container = {
        "name": "run1",
        "image": IMAGE,
        "env": [
            {"name": "POD_NAME", "value": "foo"},
            {
                "name": "ANNOTATION",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['mysubpath']"}},
            },
        ],
        "volumeMounts": [{"name": "w", "mountPath": "/sub", "subPathExpr": "$(ANNOTATION)/$(POD_NAME)"}],
    }
    pod = make_pod("Never", containers=[container], volumes=[{"name": "w", "emptyDir": {}}])
    worker = PodWorker(ctx, pod)
    await worker.sync()
    waiting = api.statuses[-1]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": "missing value for ANNOTATION"}
    assert api.statuses[-1]["phase"] == "Pending" and not runtime.named("run1")
    pod["metadata"]["annotations"] = {"mysubpath": "mypath"}
    worker.update(pod)
    await worker.sync()
    started = runtime.named("run1")
    assert len(started) == 1 and "mypath/foo'" in started[0].annotations["mounts"]


async def test_a_forbidden_sysctl_rejects_the_pod_and_safe_ones_reach_the_sandbox(world: Any) -> None:
    ctx, runtime, api, _ = world
    bad = make_pod("Never", securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]})
    await PodWorker(ctx, bad).sync()
    status = api.statuses[-1]
    assert (status["phase"], status["reason"]) == ("Failed", "SysctlForbidden")
    assert status["message"] == 'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert not runtime.sandboxes
    good = make_pod("Never", securityContext={"sysctls": [{"name": "kernel/shm_rmid_forced", "value": "1"}]})
    good["metadata"]["uid"] = "uid-2"
    await PodWorker(ctx, good).sync()
    assert dict(runtime.sandbox_configs[-1].linux.sysctls) == {"kernel.shm_rmid_forced": "1"}


async def test_the_sandbox_runs_with_the_runtime_class_handler(world: Any) -> None:
    ctx, runtime, api, _ = world
    api.objects["runtimeclass/ok"] = {"metadata": {"name": "ok"}, "handler": "runc"}
    api.objects["runtimeclass/odd"] = {"metadata": {"name": "odd"}, "handler": "test-handler"}
    await PodWorker(ctx, make_pod(runtimeClassName="ok")).sync()
    assert len(runtime.sandboxes) == 1 and runtime.named("run1")
    for name, uid in (("odd", "uid-2"), ("gone", "uid-3")):
        pod = make_pod(runtimeClassName=name)
        pod["metadata"]["uid"] = uid
        await PodWorker(ctx, pod).sync()
        status = api.statuses[-1]
        assert status["phase"] == "Pending"
        assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    await asyncio.sleep(0)
    failures = [message for reason, message in api.events if reason == "FailedCreatePodSandBox"]
    assert failures == [
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: "
        'no runtime for "test-handler" is configured',
        'Failed to create pod sandbox: runtimeclass.node.k8s.io "gone" not found',
    ]
    assert len(runtime.sandboxes) == 1
