"""kprov's host services as pods: which units, and the mirror pod and status each one shows.

kprov runs its control plane and add-ons as systemd units on the hosts, not as static pods,
so ``kubectl get pods -n kube-system`` would be empty where kubeadm users see
``kube-apiserver-<node>`` and the rest (record 0041). The kubelet publishes a mirror pod
per kprov unit installed on its host, as upstream's kubelet publishes one per static pod:

- :data:`HOST_SERVICES` is the table: unit, pod name prefix, container name, labels (kubeadm's
  ``component``/``tier`` for the control plane, ``k8s-app`` for add-ons) and priority class.
- :func:`read_unit_states` asks systemd once for every unit (``systemctl show``) and
  :func:`parse_unit_states` reads its answer. Times are read as systemd's monotonic
  microseconds and dated against this process's clocks: ``--timestamp=unix`` needs systemd
  251 (Ubuntu 22.04 has 249), and the default form follows the host's time zone and locale.
- :func:`mirror_pod` is the pod: in kube-system, bound to the node, owned by its Node, host
  network, declaring the host ports it was told the unit holds (the Ingress controller's 80
  and 443: ``--host-service-ports``), tolerating NoExecute as upstream's static pods do, and marked
  ``kubernetes.io/config.mirror`` with a hash of what it shows (a new build: a new hash).
- :func:`mirror_status` is the status from the unit, honestly: Running and Ready only while
  the unit is active; a unit restarting after a crash shows ``CrashLoopBackOff``, a stopped
  one its exit as a terminated container; restarts are systemd's NRestarts. The phase stays
  Running (restartPolicy Always: systemd restarts it, as the kubelet would).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HOST_SERVICES",
    "MIRROR_ANNOTATION",
    "SOURCE_ANNOTATION",
    "SOURCE_SYSTEMD",
    "UNIT_ANNOTATION",
    "HostService",
    "UnitState",
    "mirror_pod",
    "mirror_status",
    "parse_unit_states",
    "read_unit_states",
    "unit_of",
]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
HASH_ANNOTATION = "kubernetes.io/config.hash"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
SOURCE_SYSTEMD = "systemd"  # upstream's sources are file, http and api; this is kprov's own
UNIT_ANNOTATION = "kprov.io/systemd-unit"
NAMESPACE = "kube-system"


@dataclass(frozen=True)
class HostService:
    unit: str
    prefix: str  # the pod is <prefix>-<node>
    container: str
    labels: tuple[tuple[str, str], ...]
    priority_class: str


def _control_plane(unit: str, component: str) -> HostService:
    return HostService(unit, component, component, (("component", component), ("tier", "control-plane")),
                       "system-node-critical")


def _add_on(unit: str, app: str, priority_class: str) -> HostService:
    return HostService(unit, app, app, (("k8s-app", app),), priority_class)


HOST_SERVICES: tuple[HostService, ...] = (
    _control_plane("kprov-etcd.service", "etcd"),
    _control_plane("kprov-apiserver.service", "kube-apiserver"),
    _control_plane("kprov-controller-manager.service", "kube-controller-manager"),
    _control_plane("kprov-scheduler.service", "kube-scheduler"),
    _add_on("kprov-proxy.service", "kube-proxy", "system-node-critical"),
    _add_on("kprov-dns.service", "kube-dns", "system-cluster-critical"),
    _add_on("kprov-metrics-server.service", "metrics-server", "system-cluster-critical"),
    _add_on("kprov-ingress.service", "kprov-ingress", "system-cluster-critical"),
)

_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "NRestarts", "ActiveEnterTimestampMonotonic",
               "InactiveEnterTimestampMonotonic", "ExecMainStatus", "Result")


@dataclass(frozen=True)
class UnitState:
    unit: str
    load: str  # loaded, not-found, masked, ...
    active: str  # active, activating, deactivating, reloading, inactive, failed
    sub: str  # running, auto-restart, exited, dead, ...
    restarts: int
    active_since: str  # RFC 3339, "" when never
    inactive_since: str
    exit_status: int
    result: str  # success, exit-code, signal, ...

    @property
    def installed(self) -> bool:
        return self.load == "loaded"


def _time(monotonic_usec: str, clocks: tuple[float, float]) -> str:
    """A systemd monotonic timestamp (µs) as RFC 3339 wall time (seconds, as the API's times
    are), given (wall now, monotonic now) read together; "" for never (0)."""
    usec = _int(monotonic_usec)
    if usec <= 0:
        return ""
    wall_now, monotonic_now = clocks
    moment = wall_now - (monotonic_now - usec / 1_000_000)
    return dt.datetime.fromtimestamp(int(moment), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def parse_unit_states(text: str, clocks: tuple[float, float]) -> dict[str, UnitState]:
    """``systemctl show`` output (blocks of ``Key=Value`` per unit, blank-line separated);
    ``clocks``: (time.time(), time.monotonic()) when it was read."""
    states: dict[str, UnitState] = {}
    for block in text.split("\n\n"):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        unit = values.get("Id", "")
        if not unit:
            continue
        states[unit] = UnitState(
            unit=unit, load=values.get("LoadState", ""), active=values.get("ActiveState", ""),
            sub=values.get("SubState", ""), restarts=_int(values.get("NRestarts", "0")),
            active_since=_time(values.get("ActiveEnterTimestampMonotonic", ""), clocks),
            inactive_since=_time(values.get("InactiveEnterTimestampMonotonic", ""), clocks),
            exit_status=_int(values.get("ExecMainStatus", "0")), result=values.get("Result", ""),
        )
    return states


async def read_unit_states(units: list[str], systemctl: str = "systemctl") -> dict[str, UnitState]:
    """Every unit's state from one ``systemctl show`` (an unknown unit is ``not-found``)."""
    proc = await asyncio.create_subprocess_exec(
        systemctl, "show", "-p", ",".join(_PROPERTIES), *units,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip()
        raise RuntimeError(f"systemctl show failed ({proc.returncode}): {detail}")
    return parse_unit_states(out.decode(errors="replace"), (time.time(), time.monotonic()))


def pod_name(service: HostService, node: str) -> str:
    return f"{service.prefix}-{node}"


def unit_of(namespace: str, pod: str, container: str, node: str,
            services: tuple[HostService, ...] = HOST_SERVICES) -> str | None:
    """The unit whose mirror pod on ``node`` is ``namespace/pod`` with ``container``, or None."""
    if namespace != NAMESPACE:
        return None
    for service in services:
        if pod == pod_name(service, node) and container == service.container:
            return service.unit
    return None


def _image(service: HostService, version: str) -> str:
    return f"kprov/{service.container}:{version}"


def mirror_pod(service: HostService, node: str, node_uid: str, version: str,
               ports: tuple[int, ...] = ()) -> dict[str, Any]:
    """The mirror pod of ``service`` on ``node`` (whose Node has uid ``node_uid``); ``ports``:
    the TCP ports the unit holds on the host, declared as host ports (as an ingress
    DaemonSet's hostPorts) so the scheduler places no pod wanting them here."""
    container: dict[str, Any] = {"name": service.container, "image": _image(service, version),
                                 "imagePullPolicy": "IfNotPresent"}
    if ports:
        container["ports"] = [{"containerPort": p, "hostPort": p, "protocol": "TCP"} for p in ports]
    spec: dict[str, Any] = {
        "nodeName": node,
        "hostNetwork": True,
        "priorityClassName": service.priority_class,
        "restartPolicy": "Always",
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "containers": [container],
    }
    digest = hashlib.sha256(json.dumps([service.unit, spec], sort_keys=True).encode()).hexdigest()[:32]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(service, node),
            "namespace": NAMESPACE,
            "labels": dict(service.labels),
            "annotations": {MIRROR_ANNOTATION: digest, HASH_ANNOTATION: digest,
                            SOURCE_ANNOTATION: SOURCE_SYSTEMD, UNIT_ANNOTATION: service.unit},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid,
                                 "controller": True}],
        },
        "spec": spec,
    }


def _container_state(state: UnitState) -> tuple[dict[str, Any], bool]:
    """(the container's state, whether it is ready) for the unit's state: ready while active
    or reloading (it serves); a unit stopping still runs but is not ready."""
    if state.active in ("active", "reloading"):
        return {"running": {"startedAt": state.active_since}}, True
    if state.active == "activating":
        reason = "CrashLoopBackOff" if state.sub == "auto-restart" else "ContainerCreating"
        message = f"systemd: {state.unit} is {state.active} ({state.sub})"
        return {"waiting": {"reason": reason, "message": message}}, False
    if state.active == "deactivating":
        return {"running": {"startedAt": state.active_since}}, False
    terminated: dict[str, Any] = {
        "exitCode": state.exit_status,
        "reason": "Completed" if state.result == "success" else "Error",
        "message": f"systemd: {state.unit} is {state.active} (result {state.result or 'unknown'})",
    }
    if state.active_since:
        terminated["startedAt"] = state.active_since
    if state.inactive_since:
        terminated["finishedAt"] = state.inactive_since
    return {"terminated": terminated}, False


def _condition(kind: str, true: bool, previous: Mapping[str, Any], now: str,
               container: str) -> dict[str, Any]:
    status = "True" if true else "False"
    conditions = [c for c in previous.get("conditions") or [] if isinstance(c, Mapping)]
    old = next((c for c in conditions if c.get("type") == kind), None)
    since = old.get("lastTransitionTime") if old is not None and old.get("status") == status else None
    condition: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None,
                                 "lastTransitionTime": since or now}
    if kind in ("Ready", "ContainersReady") and not true:
        condition["reason"] = "ContainersNotReady"
        condition["message"] = f"containers with unready status: [{container}]"
    return condition


def mirror_status(service: HostService, state: UnitState, node_ip: str | Sequence[str], version: str,
                  previous: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The mirror pod's status from its unit's state; transition times are kept from
    ``previous`` (the pod's current status) where a condition did not change. ``node_ip``:
    the node's address, or one per family (dual-stack, the primary first): a host unit is
    on the host's network, so its pod IPs are the node's."""
    ips = ([node_ip] if isinstance(node_ip, str) else list(node_ip)) or [""]
    container_state, ready = _container_state(state)
    conditions = [
        _condition(kind, true, previous, now, service.container)
        for kind, true in (("PodReadyToStartContainers", True), ("Initialized", True), ("Ready", ready),
                           ("ContainersReady", ready), ("PodScheduled", True))
    ]
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": ips[0],
        "hostIPs": [{"ip": ip} for ip in ips],
        "podIP": ips[0],
        "podIPs": [{"ip": ip} for ip in ips],
        "startTime": previous.get("startTime") or state.active_since or now,
        "qosClass": "BestEffort",
        "containerStatuses": [{
            "name": service.container,
            "image": _image(service, version),
            "imageID": "",
            "containerID": f"systemd://{state.unit}",
            "ready": ready,
            "started": "running" in container_state,
            "restartCount": state.restarts,
            "state": container_state,
            "lastState": {},
        }],
    }
