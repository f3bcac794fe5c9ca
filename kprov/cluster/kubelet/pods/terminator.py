"""One pod's terminator: stopping its containers, for good or to fail the pod.

Upstream's kubelet kills pods apart from syncing them; this object is that for one pod.
:meth:`Terminator.terminate` ends a pod being deleted (deletionTimestamp, or gone from the
API): startup and liveness probes stop at once while readiness goes on, and a status is
written before any container is signalled; app and ephemeral containers stop first, then
the native sidecars one by one in reverse order, each after its preStop hook, within what
is left of the one grace period (SIGTERM, then SIGKILL); every readiness change meanwhile
is written, so a pod that stops being ready stops serving before its containers end. Once
the runtime reports nothing running, the final status (terminated states, phase Succeeded
or Failed) is written, then sandboxes, containers and volumes are removed and the pod
object is deleted with grace 0 (upstream's syncTerminatingPod).

:meth:`Terminator.fail_pod` is the kubelet failing a pod itself (activeDeadlineSeconds,
eviction): its containers stopped, phase Failed with the reason, the sandbox released, the
pod object kept for its owner. :meth:`Terminator.kill_for_restart` kills one container
whose liveness or startup probe failed, as any container is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kprov.cluster.api.objects import parse_time
from kprov.cluster.client import ApiError
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.lifecycle import run_hook
from kprov.cluster.kubelet.pods.plan import is_sidecar
from kprov.cluster.kubelet.pods.pod_runtime import PodRuntime
from kprov.cluster.kubelet.pods.podconfig import grace_period
from kprov.cluster.kubelet.pods.prober_manager import ProberManager, named_ports
from kprov.cluster.kubelet.pods.probes import LIVENESS, STARTUP, EventCallback, ProbeTarget
from kprov.cluster.kubelet.pods.status_manager import StatusManager
from kprov.cluster.kubelet.volumes.pod_volumes import remove_pod_volumes

__all__ = ["Terminator", "deadline_left"]

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def deadline_left(pod: Obj, now: float) -> float | None:
    """Seconds left of the pod's activeDeadlineSeconds (None: no deadline, or not started)."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    started = parse_time((pod.get("status") or {}).get("startTime"))
    if not deadline or started is None:
        return None
    return float(deadline) - (now - started.timestamp())


def last_ips(pod: Obj) -> list[str]:
    """The pod's IPs as its status last showed them."""
    return [ip["ip"] for ip in (pod.get("status") or {}).get("podIPs") or []]


class Terminator:
    def __init__(
        self,
        ctx: KubeletContext,
        pod: Callable[[], dict[str, Any]],
        runtime: PodRuntime,
        probes: ProberManager,
        status: StatusManager,
        on_event: EventCallback,
    ) -> None:
        self.ctx = ctx
        self._pod = pod  # the worker's current pod object (the watch replaces it)
        self._runtime = runtime
        self._probes = probes
        self._status = status
        self._event = on_event

    async def _write_final_status(self, gone: bool, *, terminal: bool) -> None:
        """The terminating pod's status; ``terminal``: after its containers stopped. Best
        effort: the pod is being deleted either way."""
        pod = self._pod()
        if gone or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        try:
            by_name = await self._runtime.containers(pod)
            await self._status.write(self._pod(), by_name, last_ips(self._pod()), terminal=terminal)
        except (CRIError, ApiError) as err:
            log.warning("pod %s: terminating status not written: %s", _key(pod), err)

    async def pre_stop(self, info: ContainerInfo, grace: int) -> None:
        """Run the container's preStop hook (if any) within the grace period."""
        spec = self._pod().get("spec") or {}
        container = next(
            (c for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
             if c.get("name") == info.name),
            None,
        )
        hook = ((container or {}).get("lifecycle") or {}).get("preStop")
        if not hook or container is None or info.state != CONTAINER_RUNNING:
            return
        pod_ips = self._runtime.any_ips()
        target = ProbeTarget(info.id, pod_ips[0] if pod_ips else "", named_ports(container))
        try:
            failure = await asyncio.wait_for(run_hook(self._probes.prober, hook, target, float(grace)), grace)
        except TimeoutError:
            failure = f"PreStop hook for container {info.name} did not finish within the grace period"
        if failure:
            self._event("Warning", "FailedPreStopHook", failure)

    async def stop_in_order(self, containers: list[ContainerInfo], grace: int) -> None:
        """Stop the running ``containers``: app (and ephemeral) containers first, all at once;
        then the native sidecars one by one in reverse order, so a proxy or log shipper
        outlives what it serves (upstream's order). Each gets its preStop hook, then the stop
        signal, within what is left of the one grace period (at least 2 s for the signal)."""
        running = [c for c in containers if c.state in (CONTAINER_RUNNING, "created")]
        sidecars = [c["name"] for c in (self._pod().get("spec") or {}).get("initContainers") or []
                    if is_sidecar(c)]
        waves = [[c for c in running if c.name not in sidecars]]
        waves += [[c for c in running if c.name == name] for name in reversed(sidecars)]
        loop = asyncio.get_running_loop()
        began = loop.time()
        for wave in waves:
            if not wave:
                continue
            left = max(0, grace - int(loop.time() - began))
            await asyncio.gather(*(self.pre_stop(c, left) for c in wave), return_exceptions=True)
            left = max(2, grace - int(loop.time() - began))
            await asyncio.gather(
                *(self.ctx.runtime.stop_container(c.id, left) for c in wave), return_exceptions=True
            )

    async def kill_for_restart(self, container: Obj, cur: ContainerInfo, kind: str = LIVENESS) -> None:
        """Kill a container whose liveness (or startup) probe failed as upstream's kubelet
        kills any: its preStop hook first, then the stop signal, within that probe's
        terminationGracePeriodSeconds (else the pod's)."""
        probe = container.get("startupProbe" if kind == STARTUP else "livenessProbe") or {}
        probe_grace = probe.get("terminationGracePeriodSeconds")
        grace = int(probe_grace) if probe_grace is not None else grace_period(self._pod())
        loop = asyncio.get_running_loop()
        began = loop.time()
        await self.pre_stop(cur, grace)
        await self.ctx.runtime.stop_container(cur.id, max(2, grace - int(loop.time() - began)))

    async def _reporting_readiness(self, gone: bool, stopping: Awaitable[None], wake: asyncio.Event) -> None:
        """Await ``stopping`` (the grace period's container stops), writing the status each
        time a readiness probe's verdict changes meanwhile (``wake`` is set on every change),
        as upstream's status manager does."""
        task = asyncio.ensure_future(stopping)
        try:
            while not task.done():
                wake.clear()
                waiter = asyncio.ensure_future(wake.wait())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if not task.done() and self._probes.take_readiness_change():
                    await self._write_final_status(gone, terminal=False)
        except asyncio.CancelledError:
            task.cancel()
            raise
        await task

    async def until_stopped(self) -> None:
        """Wait until the runtime reports none of the pod's containers running. containerd
        answers StopContainer at once for a task that already exited but whose exit it has
        not recorded yet, so its status can still read running for a short while: a final
        status read then would show a deleted pod's container running (upstream's
        syncTerminatingPod checks the same and retries). A container still running after
        half a second is stopped again."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        stopped_again = False
        while True:
            running = [c for c in await self._runtime.listed() if c.state == CONTAINER_RUNNING]
            if not running or loop.time() - began > 5:
                return
            if not stopped_again and loop.time() - began > 0.5:
                stopped_again = True
                await asyncio.gather(*(self.ctx.runtime.stop_container(c.id, 2) for c in running),
                                     return_exceptions=True)
            await asyncio.sleep(0.02)

    async def terminate(self, gone: bool, wake: asyncio.Event) -> None:
        """Stop the pod for good (``gone``: the API no longer has it); ``wake`` is the pod
        worker's, set when a probe verdict changes."""
        pod = self._pod()
        grace = grace_period(pod)
        if not gone:
            self._event("Normal", "Killing", f"Stopping pod containers (grace period {grace}s)")
        self._probes.keep_readiness_only()
        await self._write_final_status(gone, terminal=False)
        containers = await self._runtime.listed()
        await self._reporting_readiness(gone, self.stop_in_order(containers, grace), wake)
        await self.until_stopped()
        await self._write_final_status(gone, terminal=True)
        sandboxes = await self._runtime.sandboxes()
        for sb in sandboxes:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sb.id)
        for c in containers:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.remove_container(c.id)
        for sb in sandboxes:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.remove_sandbox(sb.id)
        uid = self._runtime.uid
        remove_pod_volumes(self.ctx.root_dir, uid)
        self.ctx.backoff.forget_prefix(f"{uid}/")
        self.ctx.backoff.forget_prefix(f"image:{uid}/")
        if not gone:
            await self.ctx.api.delete_pod(self._pod())
        log.info("pod %s: terminated and removed", _key(self._pod()))

    async def fail_pod(self, event_type: str, reason: str, message: str, grace: int) -> None:
        """The kubelet ends the pod itself: its containers stopped within ``grace``, the event,
        phase Failed with ``reason``, the sandbox released (the pod object stays)."""
        running = [c for c in await self._runtime.listed() if c.state == CONTAINER_RUNNING]
        await asyncio.gather(*(self.ctx.runtime.stop_container(c.id, grace) for c in running),
                             return_exceptions=True)
        await self.until_stopped()
        self._event(event_type, reason, message)
        by_name = await self._runtime.containers(self._pod())
        await self._status.write(self._pod(), by_name, last_ips(self._pod()), failed=(reason, message))
        for sandbox in await self._runtime.sandboxes():
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sandbox.id)

    async def evict(self, message: str) -> None:
        """Kill the pod's containers at once (upstream evicts for local storage with no grace),
        then report it Failed, reason Evicted, with a DisruptionTarget condition; the pod object
        stays for its owner to replace."""
        await self.fail_pod("Warning", "Evicted", message, 0)

    async def past_deadline(self, wake_in: Callable[[float], None]) -> bool:
        """activeDeadlineSeconds: past it, the pod's containers are stopped and it is Failed;
        before it, False and ``wake_in`` the time left."""
        left = deadline_left(self._pod(), self.ctx.wall_clock())
        if left is None:
            return False
        if left > 0:
            wake_in(left)
            return False
        await self.fail_pod("Normal", "DeadlineExceeded", DEADLINE_MESSAGE, grace_period(self._pod()))
        return True


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
