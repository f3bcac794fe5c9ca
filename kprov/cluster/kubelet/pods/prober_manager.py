"""One pod's prober manager: a probe worker per (container, probe kind), and their verdicts.

As upstream's kubelet keeps probing apart from the pod worker, this object owns the running
:class:`~.probes.ProbeWorker` tasks of one pod and the last result of each. The pod worker
asks it to follow the containers now running (:meth:`ProberManager.sync`), which containers
failed liveness or startup (:meth:`ProberManager.failed`) and each container's ready and
started flags (:meth:`ProberManager.flags`); every changed verdict wakes the pod worker.

Liveness and readiness wait behind a startup probe until it succeeds, then run at once.
While the pod terminates only the readiness probes go on (upstream stops startup and
liveness as successes), and a readiness verdict that changes then is remembered, so the
terminator writes the status again before the containers end.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.plan import is_sidecar
from kprov.cluster.kubelet.pods.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    EventCallback,
    ExecRuntime,
    Prober,
    ProbeTarget,
    ProbeWorker,
)

__all__ = ["ProbeKey", "ProberManager"]

Obj = Mapping[str, Any]
ProbeKey = tuple[str, str]  # (container id, probe kind)
_FIELDS = ((STARTUP, "startupProbe"), (LIVENESS, "livenessProbe"), (READINESS, "readinessProbe"))


def named_ports(container: Obj) -> dict[str, int]:
    """The container's named ports (probe and hook ports may name them)."""
    return {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}


class ProberManager:
    def __init__(
        self,
        runtime: ExecRuntime,
        on_change: Callable[[], None],
        on_event: EventCallback,
        terminating: Callable[[], bool],
    ) -> None:
        self.prober = Prober(runtime)
        self.results: dict[ProbeKey, bool] = {}
        self.readiness_changed = False  # while terminating: a verdict the status does not show yet
        self._on_change = on_change
        self._on_event = on_event
        self._terminating = terminating
        self._tasks: dict[ProbeKey, asyncio.Task[None]] = {}
        self._workers: dict[ProbeKey, ProbeWorker] = {}

    @property
    def probing(self) -> set[ProbeKey]:
        """The (container, kind) pairs a probe worker runs for."""
        return set(self._tasks)

    def failed(self, container_id: str) -> str | None:
        """The probe kind whose failure kills the container (liveness, or a startup probe
        past its failureThreshold, as upstream's kubelet), or None."""
        for kind in (LIVENESS, STARTUP):
            if self.results.get((container_id, kind)) is False:
                return kind
        return None

    def on_result(self, container_id: str, kind: str, result: bool, message: str) -> None:
        """A probe worker's changed verdict."""
        key = (container_id, kind)
        if kind == READINESS and self._terminating() and self.results.get(key) != result:
            self.readiness_changed = True
        self.results[key] = result
        if kind == STARTUP and result:  # the gated probes run at once, as upstream's
            for gated in (LIVENESS, READINESS):
                worker = self._workers.get((container_id, gated))
                if worker is not None:
                    worker.poke()
        self._on_change()

    def sync(self, spec: Obj, by_name: Mapping[str, list[ContainerInfo]], pod_ips: list[str]) -> None:
        """Probe workers for exactly the running containers' declared probes."""
        wanted: set[ProbeKey] = set()
        sidecars = [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
        for container in [*(spec.get("containers") or []), *sidecars]:
            history = by_name.get(container["name"], [])
            cur = history[0] if history else None
            if cur is None or cur.state != CONTAINER_RUNNING:
                continue
            target = ProbeTarget(cur.id, pod_ips[0] if pod_ips else "127.0.0.1", named_ports(container))
            for kind, field_name in _FIELDS:
                probe = container.get(field_name)
                if not probe:
                    continue
                key = (cur.id, kind)
                wanted.add(key)
                if key not in self._tasks:
                    self._start(key, probe, target, gated=bool(container.get("startupProbe")))
        self.stop(wanted)

    def _start(self, key: ProbeKey, probe: Obj, target: ProbeTarget, gated: bool) -> None:
        cid, kind = key

        def gate() -> bool:
            return not gated or self.results.get((cid, STARTUP), False)

        worker = ProbeWorker(
            kind,
            probe,
            target,
            self.prober,
            functools.partial(self.on_result, cid),
            gate=None if kind == STARTUP else gate,
            on_event=self._on_event,
        )
        self._tasks[key] = asyncio.create_task(worker.run())
        self._workers[key] = worker

    def stop(self, keep: set[ProbeKey]) -> None:
        """Cancel every probe worker but ``keep``, and forget their verdicts."""
        for key in [k for k in self._tasks if k not in keep]:
            self._tasks.pop(key).cancel()
            self._workers.pop(key, None)
        for key in [k for k in self.results if k not in keep]:
            del self.results[key]

    def keep_readiness_only(self) -> None:
        """The pod terminates: startup and liveness stop, readiness goes on."""
        self.stop({key for key in self._tasks if key[1] == READINESS})

    def take_readiness_change(self) -> bool:
        """Whether a readiness verdict changed since the last call."""
        changed, self.readiness_changed = self.readiness_changed, False
        return changed

    def flags(self, container: Obj, cur: ContainerInfo | None) -> tuple[bool, bool]:
        """(ready, started) of the container's current instance from its probe results."""
        if cur is None or cur.state != CONTAINER_RUNNING:
            return False, False
        ready = not container.get("readinessProbe") or self.results.get((cur.id, READINESS), False)
        if self._terminating():
            # upstream: startup and liveness stop (as successes) once the pod is deleted, while
            # readiness keeps its probe's verdict (no probe: ready) until the container stops, so a
            # terminating endpoint can still serve (EndpointSlice serving=true)
            return ready, True
        started = not container.get("startupProbe") or self.results.get((cur.id, STARTUP), False)
        if not started:
            return False, False
        return ready, True
