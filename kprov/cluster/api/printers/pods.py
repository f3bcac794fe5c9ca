"""Table printers for pods, nodes and namespaces (kubectl's STATUS/READY/ROLES logic)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path, parse_time
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of

__all__ = ["NAMESPACE", "NODE", "POD", "pod_status_reason"]


# --- pods ---------------------------------------------------------------------------------------


def _latest(current: str | None, candidate: str | None) -> str | None:
    if not candidate:
        return current
    if not current:
        return candidate
    new_time, old_time = parse_time(candidate), parse_time(current)
    if new_time is None or old_time is None:
        return current if new_time is None else candidate
    return candidate if new_time > old_time else current


def pod_status_reason(pod: dict[str, Any]) -> tuple[str, int, int, int, str | None]:
    """(STATUS text, ready containers, total containers, restarts, last restart time) like kubectl."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = 0
    last_restart: str | None = None
    reason = status.get("reason") or status.get("phase") or "Pending"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        restarts += int(container.get("restartCount") or 0)
        last_restart = _latest(last_restart, get_path(container, "lastState.terminated.finishedAt"))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if container.get("name") in sidecars and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _latest(last_restart, get_path(container, "lastState.terminated.finishedAt"))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (
                    f"Signal:{terminated['signal']}"
                    if terminated.get("signal")
                    else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if pod_ready else "NotReady"
    deleting = get_path(pod, "metadata.deletionTimestamp")
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_row(pod: dict[str, Any], age: Age) -> list[Any]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_text = str(restarts)
    if last_restart:
        restarts_text = f"{restarts} ({age(last_restart)} ago)"
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else None) or status.get("podIP") or NONE
    gates = get_path(pod, "spec.readinessGates", []) or []
    gates_text = NONE
    if gates:
        true_types = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        gates_text = f"{sum(1 for g in gates if g.get('conditionType') in true_types)}/{len(gates)}"
    return [
        name_of(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        created(pod, age),
        ip,
        get_path(pod, "spec.nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gates_text,
    ]


POD = Printer(
    (
        NAME,
        Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column(
            "Restarts",
            description="The number of times the containers in this pod have been restarted "
            "and when the last container in this pod has restarted.",
        ),
        AGE,
        Column("IP", description="IP address allocated to the pod.", priority=1),
        Column("Node", description="Name of the node where the pod is running.", priority=1),
        Column(
            "Nominated Node", description="Name of the node where the pod is nominated to run.", priority=1
        ),
        Column("Readiness Gates", description="Pod readiness gates.", priority=1),
    ),
    _pod_row,
)


# --- nodes, namespaces --------------------------------------------------------------------------


def _node_row(node: dict[str, Any], age: Age) -> list[Any]:
    conditions = get_path(node, "status.conditions", []) or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    status = {"True": "Ready", None: "Unknown"}.get(ready and ready.get("status"), "NotReady")
    if get_path(node, "spec.unschedulable"):
        status += ",SchedulingDisabled"
    roles = set()
    for key, value in (get_path(node, "metadata.labels", {}) or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    addresses = get_path(node, "status.addresses", []) or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or NONE

    info = get_path(node, "status.nodeInfo", {}) or {}
    return [
        name_of(node),
        status,
        ",".join(sorted(roles)) or NONE,
        created(node, age),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    (
        NAME,
        Column("Status", description="The status of the node"),
        Column("Roles", description="The roles of the node"),
        AGE,
        Column("Version", description="Kubelet Version reported by the node."),
        Column("Internal-IP", description="List of internal IPs.", priority=1),
        Column("External-IP", description="List of external IPs.", priority=1),
        Column("OS-Image", description="OS image reported by the node.", priority=1),
        Column("Kernel-Version", description="Kernel version reported by the node.", priority=1),
        Column("Container-Runtime", description="Container runtime reported by the node.", priority=1),
    ),
    _node_row,
)

NAMESPACE = Printer(
    (NAME, Column("Status", description="The status of the namespace"), AGE),
    lambda obj, age: [name_of(obj), get_path(obj, "status.phase", ""), created(obj, age)],
)
