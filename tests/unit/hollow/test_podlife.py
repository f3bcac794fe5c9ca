"""The hollow kubelet's decision per pod: objects and a clock in, an action out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kprov.cluster.hollow.podlife import Finalize, PostStatus, Wait, decide, pod_ip

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def _pod(restart: str = "Always", *, phase: str | None = None, started: datetime | None = None,
         inits: int = 0, deleting: bool = False) -> dict:
    pod: dict = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
        "spec": {
            "nodeName": "hollow-node-0",
            "restartPolicy": restart,
            "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "pause"}],
            "initContainers": [{"name": f"init{i}", "image": "busybox"} for i in range(inits)],
        },
        "status": {},
    }
    if phase:
        pod["status"] = {"phase": phase, "podIP": "100.64.0.1",
                         "startTime": (started or NOW).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-11-22T11:59:00Z"
    return pod


def _decide(pod: dict, now: datetime = NOW):
    return decide(pod, now=now, pod_ips=["100.64.0.1"], host_ip="100.96.0.1", complete_after_s=2.0)


def test_a_new_pod_is_reported_running_with_its_ip_and_ready() -> None:
    action = _decide(_pod(inits=1))
    assert isinstance(action, PostStatus)
    status = action.status
    assert status["phase"] == "Running"
    assert status["podIP"] == "100.64.0.1" and status["hostIP"] == "100.96.0.1"
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == dict.fromkeys(("PodScheduled", "Initialized", "ContainersReady", "Ready"), "True")
    assert [s["name"] for s in status["containerStatuses"]] == ["a", "b"]
    assert all("running" in s["state"] and s["ready"] for s in status["containerStatuses"])
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_a_running_service_pod_needs_nothing() -> None:
    assert _decide(_pod("Always", phase="Running", started=NOW - timedelta(hours=1))) is None


def test_a_job_pod_waits_out_its_run_time() -> None:
    action = _decide(_pod("Never", phase="Running", started=NOW - timedelta(seconds=1)))
    assert isinstance(action, Wait)
    assert action.seconds == pytest.approx(1.0)  # startTime has whole seconds, as the API's


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
def test_a_job_pod_succeeds_after_its_run_time(policy: str) -> None:
    action = _decide(_pod(policy, phase="Running", started=NOW - timedelta(seconds=3)))
    assert isinstance(action, PostStatus)
    assert action.status["phase"] == "Succeeded"
    terminated = [s["state"]["terminated"] for s in action.status["containerStatuses"]]
    assert [t["exitCode"] for t in terminated] == [0, 0]
    assert {t["reason"] for t in terminated} == {"Completed"}
    assert {c["type"]: c["status"] for c in action.status["conditions"]}["Ready"] == "False"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_is_left_alone(phase: str) -> None:
    assert _decide(_pod("Never", phase=phase)) is None


def test_a_pod_being_deleted_is_finalized_whatever_its_phase() -> None:
    assert _decide(_pod("Always", phase="Running", deleting=True)) == Finalize("u-1")
    assert _decide(_pod("Never", deleting=True)) == Finalize("u-1")


def test_pod_ips_are_unique_per_node_and_slot() -> None:
    ips = {pod_ip(node, slot) for node in range(2000) for slot in range(0, 254, 50)}
    assert len(ips) == 2000 * 6
    assert pod_ip(0, 0) == "100.64.0.1"
    assert pod_ip(1, 0) == "100.64.1.1"
