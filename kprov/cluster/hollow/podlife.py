"""What a hollow kubelet does with one pod: a pure decision, objects and a clock in, an action out.

A hollow node runs no containers. Its make-believe runtime starts every container the
moment the pod is seen and, for pods that may end (restartPolicy Never or OnFailure: Jobs
and one-off pods), lets every container exit 0 after ``complete_after_s``. The status it
posts is built by the real kubelet's own status logic (:func:`kprov.cluster.kubelet.pods.status.pod_status`)
from synthetic CRI container records, so phases, conditions and container statuses have
exactly the shape a real node's do. A pod being deleted is finalized at once (the real
kubelet does so once its containers are stopped; a hollow node has none to stop).

Pod IPs come from 100.64.0.0/10 (shared address space, never routed here): node ``i``'s
pods get ``100.64.0.0 + i*256 + slot``; 2,000 nodes use 100.64.0.0 - 100.71.207.255.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.status import ContainerView, pod_status

__all__ = [
    "ENDING_POLICIES",
    "Finalize",
    "PostStatus",
    "Wait",
    "decide",
    "pod_ip",
]

ENDING_POLICIES = frozenset({"Never", "OnFailure"})
_POD_NET = int(ipaddress.IPv4Address("100.64.0.0"))
_PODS_PER_NODE_BLOCK = 256

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class PostStatus:
    """Write this status through pods/status."""

    status: dict[str, Any]


@dataclass(frozen=True)
class Wait:
    """Nothing to write now; look at the pod again after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Finalize:
    """The pod is being deleted: remove it for good (grace 0, uid precondition)."""

    uid: str


Action = PostStatus | Wait | Finalize | None


def pod_ip(node_index: int, slot: int) -> str:
    """A stable, unique pod IP for pod ``slot`` (0..253) on hollow node ``node_index``."""
    return str(ipaddress.IPv4Address(_POD_NET + node_index * _PODS_PER_NODE_BLOCK + 1 + slot % 254))


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _container(
    name: str, image: str, pod_uid: str, state: str, started_ns: int, finished_ns: int = 0
) -> ContainerInfo:
    return ContainerInfo(
        id=f"hollow-{pod_uid}-{name}",
        sandbox_id=f"hollow-{pod_uid}",
        name=name,
        attempt=0,
        state=state,
        created_at_ns=started_ns,
        started_at_ns=started_ns,
        finished_at_ns=finished_ns,
        exit_code=0,
        image=image,
        image_ref=image,
    )


def _views(pod: Obj, started_ns: int, finished_ns: int) -> tuple[list[ContainerView], list[ContainerView]]:
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid", "")
    inits = [
        ContainerView(
            c["name"], c.get("image", ""),
            current=_container(c["name"], c.get("image", ""), uid, CONTAINER_EXITED, started_ns, started_ns),
        )
        for c in spec.get("initContainers") or []
    ]
    state = CONTAINER_EXITED if finished_ns else CONTAINER_RUNNING
    apps = [
        ContainerView(
            c["name"], c.get("image", ""),
            current=_container(c["name"], c.get("image", ""), uid, state, started_ns, finished_ns),
            ready=not finished_ns,
            started=not finished_ns,
        )
        for c in spec.get("containers") or []
    ]
    return inits, apps


def decide(pod: Obj, *, now: datetime, pod_ips: list[str], host_ip: str, complete_after_s: float) -> Action:
    """The hollow kubelet's next step for ``pod`` (already known to be bound to this node)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return Finalize(meta.get("uid", ""))
    phase = status.get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        return None
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    ends = (pod.get("spec") or {}).get("restartPolicy", "Always") in ENDING_POLICIES
    if phase != "Running" or not status.get("podIP"):
        started_ns = int(now.timestamp() * 1e9)
        inits, apps = _views(pod, started_ns, 0)
        return PostStatus(pod_status(pod, inits, apps, pod_ips=pod_ips, host_ip=host_ip, now=stamp))
    if not ends:
        return None
    started = _parse(status.get("startTime")) or now
    remaining = complete_after_s - (now - started).total_seconds()
    if remaining > 0:
        return Wait(remaining)
    inits, apps = _views(pod, int(started.timestamp() * 1e9), int(now.timestamp() * 1e9))
    return PostStatus(pod_status(pod, inits, apps, pod_ips=pod_ips, host_ip=host_ip, now=stamp))
