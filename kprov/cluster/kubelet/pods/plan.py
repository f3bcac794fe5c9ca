"""What a pod worker's sync does to the pod's containers, decided purely (upstream's computePodActions).

Design: :func:`plan_pod` reads a snapshot — the pod's spec and phase, the runtime's containers
by name (newest attempt first), and two questions about probes — and returns the steps in
order: start a container, restart an exited one (subject to crash-loop back-off, which the
executor applies), or kill one whose liveness probe failed. It calls nothing and changes
nothing, so every ordering rule is table-tested (tests/unit/kubelet/test_pod_plan.py); the
pod worker (:mod:`.podworker`) executes the steps against the runtime.

Rules, as upstream's kubelet orders them:
- init containers run one at a time, in order; one that exited 0 is done; a failed one is
  restarted unless ``restartPolicy: Never``, and nothing after it runs meanwhile;
- a native sidecar (an init container with ``restartPolicy: Always``) is started in its
  turn, lets the next one start once its startup probe passed, and is restarted whenever it
  exits — without holding the app containers back once the pod is Running;
- app containers start once every init container is done; a running one whose liveness
  probe failed is killed (the next sync restarts it); an exited one is restarted as the
  pod's restartPolicy says;
- ephemeral containers start once each, in their target container's PID namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.status import will_restart

__all__ = ["KillForLiveness", "PodActions", "RestartContainer", "StartContainer", "Step", "plan_pod"]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class StartContainer:
    """Create and start a container's first instance (attempt 0)."""

    container: Obj
    kind: str
    target_id: str = ""  # an ephemeral container's target, whose PID namespace it joins


@dataclass(frozen=True)
class RestartContainer:
    """Start the next attempt of an exited container, once its back-off allows."""

    container: Obj
    current: ContainerInfo
    kind: str


@dataclass(frozen=True)
class KillForLiveness:
    """Stop a running container whose liveness probe failed (preStop hook, then the signal)."""

    container: Obj
    current: ContainerInfo


Step = StartContainer | RestartContainer | KillForLiveness


@dataclass(frozen=True)
class PodActions:
    steps: tuple[Step, ...]
    init_done: bool  # every init container is done (or, a sidecar, started)


def is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _current(by_name: Mapping[str, list[ContainerInfo]], name: str) -> ContainerInfo | None:
    history = by_name.get(name) or []
    return history[0] if history else None


def _init_steps(
    spec: Obj,
    phase: str | None,
    by_name: Mapping[str, list[ContainerInfo]],
    started: Callable[[Obj, ContainerInfo], bool],
) -> tuple[list[Step], bool]:
    steps: list[Step] = []
    policy = spec.get("restartPolicy", "Always")
    for container in spec.get("initContainers") or []:
        cur = _current(by_name, container["name"])
        if is_sidecar(container):
            if cur is None:
                return [*steps, StartContainer(container, L.KIND_INIT)], False
            if cur.state == CONTAINER_EXITED:
                steps.append(RestartContainer(container, cur, L.KIND_INIT))
                if phase == "Running":
                    continue  # restarting it must not hold the app containers back
                return steps, False
            if cur.state == CONTAINER_RUNNING and started(container, cur):
                continue
            return steps, False
        if cur is not None and cur.state == CONTAINER_EXITED and cur.exit_code == 0:
            continue
        if cur is None:
            steps.append(StartContainer(container, L.KIND_INIT))
        elif cur.state == CONTAINER_EXITED and policy != "Never":
            steps.append(RestartContainer(container, cur, L.KIND_INIT))
        return steps, False
    return steps, True


def plan_pod(
    spec: Obj,
    phase: str | None,
    by_name: Mapping[str, list[ContainerInfo]],
    *,
    started: Callable[[Obj, ContainerInfo], bool],
    liveness_failed: Callable[[ContainerInfo], bool],
) -> PodActions:
    """The steps this sync takes, in order. ``started(container, current)``: has the running
    instance passed its startup probe; ``liveness_failed(current)``: did its liveness probe fail."""
    steps, init_done = _init_steps(spec, phase, by_name, started)
    if not init_done:
        return PodActions(tuple(steps), False)
    policy = spec.get("restartPolicy", "Always")
    for container in spec.get("containers") or []:
        cur = _current(by_name, container["name"])
        if cur is None:
            steps.append(StartContainer(container, L.KIND_APP))
        elif cur.state == CONTAINER_RUNNING and liveness_failed(cur):
            steps.append(KillForLiveness(container, cur))
        elif cur.state == CONTAINER_EXITED and will_restart(policy, cur):
            steps.append(RestartContainer(container, cur, L.KIND_APP))
    for container in spec.get("ephemeralContainers") or []:
        if by_name.get(container["name"]):
            continue
        target = _current(by_name, container.get("targetContainerName") or "")
        target_id = target.id if target is not None and target.state == CONTAINER_RUNNING else ""
        steps.append(StartContainer(container, L.KIND_EPHEMERAL, target_id))
    return PodActions(tuple(steps), True)
