"""One pod's status manager: what the kubelet last wrote, and writing only what changed.

Upstream's kubelet keeps the pod status it computed in a status manager apart from the pod
worker; this object is that for one pod. It holds the waiting reasons the worker decided
(ErrImagePull, CrashLoopBackOff, ...), builds a :class:`~.status.ContainerView` per spec
container from the runtime's containers and the prober manager's flags, computes the status
with the pure :func:`~.status.pod_status` and writes it to the API only when it differs
from the last one written.

The watch may deliver an object older than the last status write: :meth:`StatusManager.merged`
keeps ours, so startTime and condition transition times never move backwards, while the
conditions others own (DisruptionTarget, readiness gates) are taken as the API has them.
A pod the kubelet fails itself (rejected, past its deadline, evicted) gets phase Failed with
the reason; an eviction adds the DisruptionTarget condition, as upstream's eviction manager.

A written status goes into the worker's *current* pod object (``current``), not only the one
the status was computed from: the watch may replace the worker's object while the write is
on its way, and a sync that then read the old status would act on a pod the kubelet has
already failed (an evicted pod restarted, its phase Running again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.kubelet.context import PodApi
from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.plan import is_sidecar
from kprov.cluster.kubelet.pods.status import (
    KUBELET_CONDITIONS,
    ContainerView,
    foreign_conditions,
    pod_phase,
    pod_status,
)

__all__ = ["ByName", "StatusManager"]

Obj = Mapping[str, Any]
ByName = Mapping[str, list[ContainerInfo]]  # container name -> its instances, latest first
Flags = Callable[[Obj, ContainerInfo | None], tuple[bool, bool]]  # (ready, started)


class StatusManager:
    def __init__(
        self,
        api: PodApi,
        node_ip: str,
        flags: Flags,
        host_ips: Sequence[str] = (),
        current: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.last: dict[str, Any] | None = None  # the status last written
        self.waiting: dict[str, tuple[str, str]] = {}  # container -> (reason, message)
        self._api = api
        self._node_ip = node_ip
        self._host_ips = tuple(host_ips)  # both families' when dual-stack, node_ip first
        self._flags = flags
        self._current = current  # the worker's pod object now (the watch replaces it)

    def merged(self, api_status: Obj) -> dict[str, Any] | None:
        """The status to hold for a pod the watch delivered with ``api_status``: ours (None
        before our first write) with the conditions others own taken from the API."""
        if self.last is None:
            return None
        return {
            **self.last,
            "conditions": foreign_conditions(api_status) + [
                c for c in self.last.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS
            ],
        }

    def views(self, containers: Sequence[Obj], by_name: ByName) -> list[ContainerView]:
        views = []
        for container in containers:
            history = by_name.get(container["name"], [])
            cur = history[0] if history else None
            prev = history[1] if len(history) > 1 else None
            waiting = self.waiting.get(container["name"])
            if cur is not None and cur.state == CONTAINER_RUNNING:
                waiting = None
            ready, started = self._flags(container, cur)
            views.append(
                ContainerView(
                    container["name"], container.get("image", ""), cur, prev, waiting, ready, started,
                    sidecar=is_sidecar(container),
                )
            )
        return views

    def finished(self, spec: Obj, by_name: ByName) -> bool:
        """Whether the pod's phase is now Succeeded or Failed (by its app containers)."""
        phase = pod_phase(
            spec.get("restartPolicy", "Always"),
            self.views(list(spec.get("initContainers") or []), by_name),
            self.views(list(spec.get("containers") or []), by_name),
        )
        return phase in ("Succeeded", "Failed")

    async def write(
        self,
        pod: dict[str, Any],
        by_name: ByName,
        pod_ips: list[str],
        init: Sequence[Obj] | None = None,
        failed: tuple[str, str] | None = None,
        terminal: bool = False,
    ) -> None:
        """Compute ``pod``'s status and write it if it changed (``pod["status"]`` follows).
        ``init``: the init containers to report (default: the spec's); ``failed``: the
        kubelet fails the pod itself (reason, message); ``terminal``: its containers stopped."""
        spec = pod.get("spec") or {}
        if init is None:
            init = spec.get("initContainers") or []
        status = pod_status(
            pod,
            self.views(list(init), by_name),
            self.views(list(spec.get("containers") or []), by_name),
            pod_ips=pod_ips,
            host_ip=self._node_ip,
            host_ips=self._host_ips,
            now=now_rfc3339(),
            ephemeral_views=self.views(list(spec.get("ephemeralContainers") or []), by_name),
            terminal=terminal,
        )
        if failed is not None:
            status.update(phase="Failed", reason=failed[0], message=failed[1])
            if failed[0] == "Evicted":  # as upstream's eviction manager (PodDisruptionConditions)
                kept = [c for c in status["conditions"] if c.get("type") != "DisruptionTarget"]
                status["conditions"] = [*kept, {
                    "type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(), "reason": "TerminationByKubelet",
                    "message": failed[1],
                }]
        if status == self.last:
            return
        await self._api.write_pod_status(pod, status)
        self.last = status
        pod["status"] = status
        if self._current is not None:
            self._current()["status"] = status
