"""Pod status from what the runtime reports: phase, conditions, IPs and container statuses.

Pure functions over :class:`ContainerView` (one per spec container: its latest and
previous CRI container, a waiting reason the pod worker decided such as ErrImagePull or
CrashLoopBackOff, and probe-derived ready/started flags). Conditions keep their
lastTransitionTime while their status is unchanged, so writing the same status twice is a
no-op for watchers; their reasons and messages are upstream's (``ContainersNotInitialized``
"containers with incomplete status: [a b]", ``ContainersNotReady`` "containers with unready
status: [c]", ``PodCompleted`` / ``PodFailed`` once terminal). A regular init container that
exited 0 is Ready, as upstream's prober manager reports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo

__all__ = [
    "KUBELET_CONDITIONS",
    "ContainerView",
    "container_status",
    "foreign_conditions",
    "pod_phase",
    "pod_status",
    "qos_class",
    "will_restart",
]

Obj = Mapping[str, Any]
RUNTIME_PREFIX = "containerd://"


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str
    current: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting: tuple[str, str] | None = None  # (reason, message) when not running
    ready: bool = False
    started: bool = False
    sidecar: bool = False  # an init container with restartPolicy Always (a native sidecar)


def _ts(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(info: ContainerInfo) -> dict[str, Any]:
    reason = info.reason or ("Completed" if info.exit_code == 0 else "Error")
    out: dict[str, Any] = {
        "exitCode": info.exit_code,
        "reason": reason,
        "containerID": RUNTIME_PREFIX + info.id,
    }
    if info.message:
        out["message"] = info.message
    if info.started_at_ns:
        out["startedAt"] = _ts(info.started_at_ns)
    if info.finished_at_ns:
        out["finishedAt"] = _ts(info.finished_at_ns)
    return out


def will_restart(restart_policy: str, info: ContainerInfo) -> bool:
    """Does the restart policy restart this exited container?"""
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return info.exit_code != 0
    return False


def container_status(view: ContainerView, default_waiting: str = "ContainerCreating") -> dict[str, Any]:
    cur = view.current
    state: dict[str, Any]
    last: dict[str, Any] = {}
    if cur is None or cur.state not in (CONTAINER_RUNNING, CONTAINER_EXITED):
        reason, message = view.waiting or (default_waiting, "")
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        if view.previous is not None and view.previous.state == CONTAINER_EXITED:
            last = {"terminated": _terminated(view.previous)}
    elif cur.state == CONTAINER_RUNNING:
        state = {"running": {"startedAt": _ts(cur.started_at_ns or cur.created_at_ns)}}
        if view.previous is not None and view.previous.state == CONTAINER_EXITED:
            last = {"terminated": _terminated(view.previous)}
    elif view.waiting is not None:  # exited, and about to be restarted after a back-off
        reason, message = view.waiting
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        last = {"terminated": _terminated(cur)}
    else:
        state = {"terminated": _terminated(cur)}
        if view.previous is not None and view.previous.state == CONTAINER_EXITED:
            last = {"terminated": _terminated(view.previous)}
    out: dict[str, Any] = {
        "name": view.name,
        "state": state,
        "lastState": last,
        "ready": bool(view.ready and cur is not None and cur.state == CONTAINER_RUNNING),
        "restartCount": cur.attempt
        if cur is not None
        else (view.previous.attempt + 1 if view.previous else 0),
        "image": view.image,
        "imageID": (cur.image_ref if cur is not None else "") or "",
        "started": bool(view.started and cur is not None and cur.state == CONTAINER_RUNNING),
    }
    if cur is not None:
        out["containerID"] = RUNTIME_PREFIX + cur.id
    return out


def _init_done(view: ContainerView) -> bool:
    """A regular init container is done once it exited 0; a sidecar once it has started."""
    cur = view.current
    if view.sidecar:
        return cur is not None and (
            (cur.state == CONTAINER_RUNNING and view.started) or view.previous is not None
            or cur.state == CONTAINER_EXITED
        )
    return cur is not None and cur.state == CONTAINER_EXITED and cur.exit_code == 0


def pod_phase(
    restart_policy: str, init_views: Sequence[ContainerView], app_views: Sequence[ContainerView]
) -> str:
    for view in init_views:
        cur = view.current
        if (
            not view.sidecar
            and cur is not None
            and cur.state == CONTAINER_EXITED
            and cur.exit_code != 0
            and restart_policy == "Never"
        ):
            return "Failed"
    if not all(_init_done(v) for v in init_views):
        return "Pending"
    waiting = running = failed = 0
    for view in app_views:
        cur = view.current
        if cur is None or cur.state not in (CONTAINER_RUNNING, CONTAINER_EXITED):
            if view.previous is not None:
                running += 1  # being restarted
            else:
                waiting += 1
        elif cur.state == CONTAINER_RUNNING or will_restart(restart_policy, cur):
            running += 1
        elif cur.exit_code != 0:
            failed += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    return "Failed" if failed else "Succeeded"


def qos_class(pod: Obj) -> str:
    containers = list((pod.get("spec") or {}).get("containers") or [])
    containers += list((pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits.get(name))) != str(limits.get(name)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


Condition = tuple[bool, str, str]  # (status, reason, message)

# The condition types the kubelet writes (upstream's PodConditionsByKubelet); any other type
# (DisruptionTarget from the scheduler, a readiness gate's from its controller) belongs to
# someone else and is kept as the API has it.
KUBELET_CONDITIONS = frozenset(
    {"PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"}
)


def foreign_conditions(status: Obj) -> list[dict[str, Any]]:
    """The conditions of ``status`` that the kubelet does not own, in their order."""
    return [dict(c) for c in status.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]


def _with_readiness_gates(ready: Condition, gates: Sequence[Obj], conditions: Sequence[Obj]) -> Condition:
    """Ready is ContainersReady and, for each of ``spec.readinessGates``, its condition True
    (upstream's messages when one is missing or not True)."""
    if not ready[0] or not gates:
        return ready
    by_type = {c.get("type"): c for c in conditions}
    problems = []
    for gate in gates:
        kind = gate.get("conditionType")
        found = by_type.get(kind)
        if found is None:
            problems.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif found.get("status") != "True":
            problems.append(
                f'the status of pod readiness gate "{kind}" is not "True", but {found.get("status")}'
            )
    if problems:
        return False, "ReadinessGatesNotReady", ", ".join(problems)
    return ready


def _conditions(old: Sequence[Obj], wanted: dict[str, Condition], now: str) -> list[dict[str, Any]]:
    previous = {c.get("type"): c for c in old}
    out = []
    for ctype, (value, reason, message) in wanted.items():
        status = "True" if value else "False"
        before = previous.get(ctype)
        stamp = before.get("lastTransitionTime", now) if before and before.get("status") == status else now
        cond: dict[str, Any] = {
            "type": ctype,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
        }
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        out.append(cond)
    return out


def _names(names: Sequence[str]) -> str:
    """A list of names as Go's %s prints a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def _initialized_condition(
    phase: str, init_views: Sequence[ContainerView], init_statuses: Sequence[Obj], app_statuses: Sequence[Obj]
) -> Condition:
    """Initialized as upstream's kubelet generates it: True once every regular init container
    exited 0 (is Ready) and every sidecar has started, or once any app container has run."""
    incomplete = [
        view.name
        for view, status in zip(init_views, init_statuses, strict=True)
        if not (status.get("started") if view.sidecar else status.get("ready"))
    ]
    if phase == "Succeeded":
        return True, "PodCompleted", ""
    if any("running" in s["state"] or "terminated" in s["state"] for s in app_statuses):
        return True, "", ""
    if incomplete:
        return False, "ContainersNotInitialized", f"containers with incomplete status: {_names(incomplete)}"
    return True, "", ""


def _ready_condition(
    phase: str, init_views: Sequence[ContainerView], init_statuses: Sequence[Obj], app_statuses: Sequence[Obj]
) -> Condition:
    """ContainersReady (and Ready, which has no readiness gates here) as upstream's kubelet
    generates it: False with PodCompleted/PodFailed once the pod is terminal, else the names
    of the app containers and sidecars that are not ready."""
    if phase == "Succeeded":
        return False, "PodCompleted", ""
    if phase == "Failed":
        return False, "PodFailed", ""
    statuses = [s for v, s in zip(init_views, init_statuses, strict=True) if v.sidecar] + list(app_statuses)
    unready = [str(s["name"]) for s in statuses if not s.get("ready")]
    if unready or not app_statuses:
        return False, "ContainersNotReady", f"containers with unready status: {_names(unready)}"
    return True, "", ""


def _init_status(view: ContainerView) -> dict[str, Any]:
    """An init container's status: a regular one is Ready once it exited 0 (upstream's prober
    manager marks it so), a sidecar by its readiness as an app container's."""
    out = container_status(view, "PodInitializing")
    cur = view.current
    if not view.sidecar:
        out["ready"] = cur is not None and cur.state == CONTAINER_EXITED and cur.exit_code == 0
    return out


def pod_status(
    pod: Obj,
    init_views: Sequence[ContainerView],
    app_views: Sequence[ContainerView],
    *,
    pod_ips: Sequence[str],
    host_ip: str,
    now: str,
    host_ips: Sequence[str] = (),
    ephemeral_views: Sequence[ContainerView] = (),
    terminal: bool = False,
) -> dict[str, Any]:
    """The whole ``status`` of the pod (old status is read from ``pod`` for continuity);
    ephemeral containers are reported but never count for the phase or readiness.
    ``terminal``: the pod was deleted and its containers stopped; nothing will restart, so the
    phase is Succeeded when every container exited 0, else Failed (upstream's final status)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    restart_policy = "Never" if terminal else spec.get("restartPolicy", "Always")
    phase = pod_phase(restart_policy, init_views, app_views)
    if terminal and phase not in ("Succeeded", "Failed"):
        phase = "Failed"  # a container that never ran
    initialized = all(_init_done(v) for v in init_views)
    app_statuses = [
        container_status(v, "ContainerCreating" if initialized else "PodInitializing") for v in app_views
    ]
    init_statuses = [_init_status(v) for v in init_views]
    ready = _ready_condition(phase, init_views, init_statuses, app_statuses)
    foreign = foreign_conditions(old)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": foreign + _conditions(
            old.get("conditions") or [],
            {
                "PodScheduled": (True, "", ""),
                "Initialized": _initialized_condition(phase, init_views, init_statuses, app_statuses),
                "ContainersReady": ready,
                "Ready": _with_readiness_gates(ready, spec.get("readinessGates") or [], foreign),
            },
            now,
        ),
        "hostIP": host_ip,
        "hostIPs": [{"ip": ip} for ip in host_ips or ([host_ip] if host_ip else [])],
        "startTime": old.get("startTime") or now,
        "containerStatuses": app_statuses,
        "qosClass": qos_class(pod),
    }
    if pod_ips:
        status["podIP"] = pod_ips[0]
        status["podIPs"] = [{"ip": ip} for ip in pod_ips]
    if init_views:
        status["initContainerStatuses"] = init_statuses
    if ephemeral_views:
        status["ephemeralContainerStatuses"] = [
            {**container_status(v), "ready": False} for v in ephemeral_views
        ]
    return status
