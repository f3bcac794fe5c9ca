from __future__ import annotations

from kprov.cluster.kubelet.cri.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    ContainerInfo,
)
from kprov.cluster.kubelet.pods.backoff import Backoff
from kprov.cluster.kubelet.pods.status import (
    ContainerView,
    container_status,
    pod_phase,
    pod_status,
    qos_class,
)

NS = 1_000_000_000


def info(name: str, state: str, attempt: int = 0, exit_code: int = 0, cid: str = "") -> ContainerInfo:
    return ContainerInfo(
        id=cid or f"{name}-{attempt}",
        sandbox_id="sb",
        name=name,
        attempt=attempt,
        state=state,
        created_at_ns=100 * NS,
        started_at_ns=101 * NS,
        finished_at_ns=200 * NS if state == CONTAINER_EXITED else 0,
        exit_code=exit_code,
        image_ref="sha256:img",
    )


def test_backoff_first_restart_immediate_then_doubles_to_cap() -> None:
    b = Backoff()
    assert b.remaining("k", since=0, now=0) == 0
    b.record("k", now=0)
    assert b.remaining("k", since=5, now=5) == 10
    assert b.remaining("k", since=5, now=12) == 3
    delays = []
    for step in range(8):
        b.record("k", now=20 + step)
        delays.append(b.current_delay("k"))
    assert delays == [20, 40, 80, 160, 300, 300, 300, 300]
    assert b.remaining("k", since=1000, now=1000 + 601) == 0  # quiet for 2x max: forgotten
    assert b.current_delay("k") == 0


def test_running_container_status_with_last_state() -> None:
    view = ContainerView(
        "app",
        "busybox",
        info("app", CONTAINER_RUNNING, 2),
        info("app", CONTAINER_EXITED, 1, exit_code=137),
        ready=True,
        started=True,
    )
    st = container_status(view)
    assert st["state"] == {"running": {"startedAt": "1970-01-01T00:01:41Z"}}
    assert st["lastState"]["terminated"]["exitCode"] == 137
    assert st["lastState"]["terminated"]["reason"] == "Error"
    assert st["restartCount"] == 2 and st["ready"] and st["started"]
    assert st["containerID"] == "containerd://app-2" and st["imageID"] == "sha256:img"


def test_crashloop_waiting_shows_dead_container_as_last_state() -> None:
    view = ContainerView(
        "app",
        "busybox",
        info("app", CONTAINER_EXITED, 3, exit_code=1),
        waiting=("CrashLoopBackOff", "back-off 40s"),
    )
    st = container_status(view)
    assert st["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert st["lastState"]["terminated"]["exitCode"] == 1
    assert not st["ready"]


def test_never_started_container_waits_with_reason() -> None:
    st = container_status(ContainerView("app", "x", waiting=("ErrImagePull", "no registry")))
    assert st["state"]["waiting"] == {"reason": "ErrImagePull", "message": "no registry"}
    assert st["restartCount"] == 0 and "containerID" not in st
    created = container_status(ContainerView("app", "x", info("app", CONTAINER_CREATED)))
    assert created["state"]["waiting"]["reason"] == "ContainerCreating"


def test_phases() -> None:
    run = ContainerView("a", "i", info("a", CONTAINER_RUNNING))
    ok = ContainerView("a", "i", info("a", CONTAINER_EXITED, exit_code=0))
    bad = ContainerView("a", "i", info("a", CONTAINER_EXITED, exit_code=2))
    pending = ContainerView("a", "i")
    assert pod_phase("Always", [], [pending]) == "Pending"
    assert pod_phase("Always", [], [run]) == "Running"
    assert pod_phase("Always", [], [bad]) == "Running"  # will restart
    assert pod_phase("OnFailure", [], [bad]) == "Running"
    assert pod_phase("OnFailure", [], [ok]) == "Succeeded"
    assert pod_phase("Never", [], [bad, ok]) == "Failed"
    assert pod_phase("Never", [], [ok, ok]) == "Succeeded"
    init_running = ContainerView("i", "i", info("i", CONTAINER_RUNNING))
    assert pod_phase("Always", [init_running], [pending]) == "Pending"
    assert (
        pod_phase("Never", [ContainerView("i", "i", info("i", CONTAINER_EXITED, exit_code=1))], [pending])
        == "Failed"
    )


def test_pod_status_conditions_keep_transition_times() -> None:
    pod = {"spec": {"containers": [{"name": "a"}]}, "status": {}}
    ready = ContainerView("a", "img", info("a", CONTAINER_RUNNING), ready=True, started=True)
    first = pod_status(pod, [], [ready], pod_ips=["10.244.0.9"], host_ip="10.77.0.11", now="T1")
    conds = {c["type"]: c for c in first["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["ContainersReady"]["status"] == "True"
    assert conds["Initialized"]["status"] == "True" and conds["PodScheduled"]["status"] == "True"
    assert first["podIP"] == "10.244.0.9" and first["podIPs"] == [{"ip": "10.244.0.9"}]
    assert first["hostIP"] == "10.77.0.11" and first["startTime"] == "T1" and first["phase"] == "Running"
    second = pod_status(
        {**pod, "status": first}, [], [ready], pod_ips=["10.244.0.9"], host_ip="10.77.0.11", now="T2"
    )
    assert second == first  # nothing changed: identical status, no write needed
    unready = ContainerView("a", "img", info("a", CONTAINER_RUNNING), ready=False, started=True)
    third = pod_status({**pod, "status": first}, [], [unready], pod_ips=["10.244.0.9"], host_ip="h", now="T3")
    conds = {c["type"]: c for c in third["conditions"]}
    assert conds["Ready"] == {**conds["Ready"], "status": "False", "lastTransitionTime": "T3"}
    assert conds["PodScheduled"]["lastTransitionTime"] == "T1"
    assert third["startTime"] == "T1"


def test_qos_class() -> None:
    def pod(res: dict[str, object]) -> dict[str, object]:
        return {"spec": {"containers": [{"name": "c", "resources": res}]}}

    assert qos_class(pod({})) == "BestEffort"
    assert qos_class(pod({"limits": {"cpu": "1", "memory": "1Gi"}})) == "Guaranteed"
    assert qos_class(pod({"requests": {"cpu": "1"}})) == "Burstable"
