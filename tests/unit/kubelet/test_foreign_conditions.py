"""Conditions the kubelet does not own stay as the API has them (the scheduler's
DisruptionTarget on a preempted pod, a readiness gate's condition from its controller), and
Ready waits for every readiness gate, with upstream's reasons and messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.pods.status import ContainerView, pod_status
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime

NOW = "2026-01-01T00:00:00Z"
DISRUPTION = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
              "lastTransitionTime": NOW}


def _status(pod: dict[str, Any]) -> dict[str, Any]:
    running = ContainerInfo("c1", "s1", "app", 0, CONTAINER_RUNNING, 1, started_at_ns=1)
    view = ContainerView("app", "img", current=running, ready=True, started=True)
    return pod_status(pod, [], [view], pod_ips=["10.0.0.2"], host_ip="10.77.0.11", now=NOW)


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_a_condition_the_kubelet_does_not_own_is_kept() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]},
           "status": {"conditions": [DISRUPTION]}}
    status = _status(pod)
    assert _condition(status, "DisruptionTarget") == DISRUPTION
    assert _condition(status, "Ready")["status"] == "True"


def test_ready_waits_for_each_readiness_gate() -> None:
    spec = {"containers": [{"name": "app"}], "readinessGates": [{"conditionType": "example.com/lb"}]}
    missing = _status({"metadata": {"name": "p"}, "spec": spec, "status": {}})
    assert _condition(missing, "ContainersReady")["status"] == "True"
    ready = _condition(missing, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ReadinessGatesNotReady",
        'corresponding condition of pod readiness gate "example.com/lb" does not exist.')
    gate = {"type": "example.com/lb", "status": "False", "lastTransitionTime": NOW}
    pending = _status({"metadata": {"name": "p"}, "spec": spec, "status": {"conditions": [gate]}})
    assert _condition(pending, "Ready")["message"] == (
        'the status of pod readiness gate "example.com/lb" is not "True", but False')
    passed = _status({"metadata": {"name": "p"}, "spec": spec,
                      "status": {"conditions": [{**gate, "status": "True"}]}})
    assert _condition(passed, "Ready")["status"] == "True"
    assert _condition(passed, "example.com/lb")["status"] == "True"


async def test_the_worker_takes_others_conditions_from_the_watch_and_keeps_its_own(tmp_path: Path) -> None:
    ctx = KubeletContext(FakeRuntime(), FakeApi(), NodeSettings("n1"), tmp_path, "10.77.0.11",  # type: ignore[arg-type]
                         wall_clock=lambda: 10_000.0)
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
           "spec": {"containers": [{"name": "app", "image": "img"}]}}
    worker = PodWorker(ctx, pod)
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": NOW}
    ours: dict[str, Any] = {"phase": "Running", "conditions": [ready]}
    worker.status.last = ours
    stale = {"type": "Ready", "status": "False", "lastTransitionTime": "2025-01-01T00:00:00Z"}
    worker.update({**pod, "status": {"phase": "Pending", "conditions": [DISRUPTION, stale]}})
    assert worker.pod["status"]["phase"] == "Running"  # an older watch object does not win
    assert worker.pod["status"]["conditions"] == [DISRUPTION, ready]
