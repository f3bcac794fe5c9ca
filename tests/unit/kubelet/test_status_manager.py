"""The status manager on its own: a status is written only when it changed, the watch's
older copy never wins over ours (but others' conditions do), waiting reasons show only on a
container not running, and a pod the kubelet evicts carries DisruptionTarget."""

from __future__ import annotations

from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.status_manager import StatusManager
from tests.unit.kubelet.fakes import FakeApi


def _pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": {"containers": [{"name": "app", "image": "img"}]},
    }


def _manager(api: FakeApi) -> StatusManager:
    return StatusManager(api, "10.77.0.11", lambda container, cur: (cur is not None, cur is not None))


RUNNING = {"app": [ContainerInfo("c1", "sb1", "app", 0, CONTAINER_RUNNING, 1, started_at_ns=2)]}


async def test_a_status_is_written_once_until_it_changes() -> None:
    api, pod = FakeApi(), _pod()
    manager = _manager(api)
    await manager.write(pod, RUNNING, ["10.244.0.2"])
    await manager.write(pod, RUNNING, ["10.244.0.2"])
    assert len(api.statuses) == 1
    assert pod["status"] is manager.last and pod["status"]["podIP"] == "10.244.0.2"
    await manager.write(pod, {}, ["10.244.0.2"])  # the container went away
    assert len(api.statuses) == 2 and api.statuses[-1]["phase"] == "Pending"


async def test_ours_holds_against_the_watch_but_others_conditions_are_theirs() -> None:
    api, pod = FakeApi(), _pod()
    manager = _manager(api)
    assert manager.merged({"phase": "Pending"}) is None  # nothing written yet: the API's stands
    await manager.write(pod, RUNNING, ["10.244.0.2"])
    ours = manager.last
    assert ours is not None
    theirs = {"phase": "Pending", "conditions": [
        {"type": "Ready", "status": "False"},
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"},
    ]}
    merged = manager.merged(theirs)
    assert merged is not None and merged["phase"] == ours["phase"] == "Running"
    types = {c["type"]: c["status"] for c in merged["conditions"]}
    assert types["DisruptionTarget"] == "True" and types["Ready"] == "True"


async def test_waiting_shows_only_while_the_container_does_not_run() -> None:
    manager = _manager(FakeApi())
    manager.waiting["app"] = ("CrashLoopBackOff", "back-off")
    containers = _pod()["spec"]["containers"]
    (waiting,) = manager.views(containers, {})
    (running,) = manager.views(containers, RUNNING)
    assert waiting.waiting == ("CrashLoopBackOff", "back-off") and running.waiting is None
    assert (running.ready, running.started) == (True, True)


async def test_a_pod_the_kubelet_fails_or_evicts() -> None:
    api, pod = FakeApi(), _pod()
    manager = _manager(api)
    await manager.write(pod, {}, [], [], failed=("DeadlineExceeded", "too long"))
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    assert all(c["type"] != "DisruptionTarget" for c in pod["status"]["conditions"])
    await manager.write(pod, {}, [], [], failed=("Evicted", "disk"))
    (target,) = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (target["reason"], target["message"]) == ("TerminationByKubelet", "disk")
    assert manager.finished(pod["spec"], {}) is False  # by its containers, nothing ended
    done = {"app": [ContainerInfo("c1", "sb1", "app", 0, CONTAINER_EXITED, 1, exit_code=0, finished_at_ns=3)]}
    assert manager.finished({**pod["spec"], "restartPolicy": "Never"}, done)
    assert not manager.finished({**pod["spec"], "restartPolicy": "Always"}, done)
