"""One worker per pod: level-based sync of the pod's sandbox and containers with its spec.

Each :meth:`PodWorker.sync` reads the truth from the runtime (:mod:`.pod_runtime`) and acts
on the difference, as planned by the pure :func:`~.plan.plan_pod`: create the sandbox, run
init containers one at a time to completion, start app containers, restart exited ones per
restartPolicy with CrashLoopBackOff back-off, kill containers whose liveness probe failed,
start ephemeral containers (``kubectl debug``) once each, in their target's PID namespace.
Because nothing is remembered that the runtime does not hold, a restarted kubelet adopts
running containers instead of restarting them.

The worker drives three managers, as upstream's kubelet divides the same work: the prober
manager (:mod:`.prober_manager`: probe workers and their verdicts), the status manager
(:mod:`.status_manager`: the status computed and written when it changed) and the
terminator (:mod:`.terminator`: a deleted pod's graceful end, the kubelet failing a pod).
What the containers are made from is read by :mod:`.source_reader`.

A container whose start failed (image pull, CreateContainerConfigError, CreateContainerError,
RunContainerError) is tried again only after upstream's pod-worker back-off
(:func:`~.backoff.sync_retry_delay`), however often the worker wakes meanwhile; image pulls
back off on their own (:mod:`.containers`), and every attempt's events fold into counts in
the recorder. A pod naming a sysctl the node does not allow, or an AppArmor profile it
cannot enforce, is rejected (phase Failed) before anything runs; a sandbox the runtime
refuses (an unknown handler, a deleted RuntimeClass) leaves the pod Pending with a
``FailedCreatePodSandBox`` event, retried every resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.containers import ContainerStarter, Launch, grpc_error_text
from kprov.cluster.kubelet.pods.env import ConfigError
from kprov.cluster.kubelet.pods.plan import RestartContainer, StartContainer, Step, plan_pod
from kprov.cluster.kubelet.pods.pod_runtime import PodRuntime, RuntimeClassMissing
from kprov.cluster.kubelet.pods.podconfig import grace_period
from kprov.cluster.kubelet.pods.prober_manager import ProberManager
from kprov.cluster.kubelet.pods.probes import LIVENESS
from kprov.cluster.kubelet.pods.securitycontext import APPARMOR_REASON, apparmor_rejection
from kprov.cluster.kubelet.pods.source_reader import SourceReader
from kprov.cluster.kubelet.pods.status_manager import StatusManager
from kprov.cluster.kubelet.pods.sysctls import FORBIDDEN_REASON, forbidden_sysctl
from kprov.cluster.kubelet.pods.terminator import Terminator
from kprov.cluster.kubelet.volumes.pod_volumes import setup_volumes

__all__ = ["PodWorker"]

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
ByName = dict[str, list[ContainerInfo]]


def _identity(pod: Obj) -> Any:
    """A copy of what a change of the pod is (anything but status and bookkeeping)."""
    skip = ("resourceVersion", "managedFields")
    meta = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in skip}
    return copy.deepcopy((meta, pod.get("spec")))


class PodWorker:
    def __init__(self, ctx: KubeletContext, pod: Obj) -> None:
        self.ctx = ctx
        self.pod: dict[str, Any] = dict(pod)
        self.uid: str = pod["metadata"]["uid"]
        self.gone = False  # the API no longer has the pod
        self.done = asyncio.Event()
        self._wake = asyncio.Event()
        self._eviction: str | None = None  # the eviction manager's message, until carried out
        self._timer: asyncio.TimerHandle | None = None
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._identity = _identity(pod)
        self.runtime = PodRuntime(ctx, self.uid)
        self.probes = ProberManager(ctx.runtime, self.wake, self._event, lambda: self._terminating)
        self.status = StatusManager(ctx.api, ctx.node_ip, self.probes.flags, ctx.host_ips, lambda: self.pod)
        self.terminator = Terminator(
            ctx, lambda: self.pod, self.runtime, self.probes, self.status, self._event
        )
        self._sources = SourceReader(ctx, self.wake_in)
        self.starter = ContainerStarter(ctx, self.uid, self.status.waiting, self._event, self.wake_in)

    def _event(self, event_type: str, reason: str, message: str) -> None:
        """Record a core/v1 Event in the background (kubectl describe shows them)."""
        task = asyncio.create_task(self.ctx.api.record_event(self.pod, event_type, reason, message))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    # ---- driving ------------------------------------------------------------------------
    def update(self, pod: Obj) -> None:
        identity = _identity(pod)
        if identity != self._identity:  # a changed pod is synced at once, as upstream's UpdatePod
            self._identity = identity
            self.starter.forget_retries()
        self.pod = dict(pod)
        ours = self.status.merged(pod.get("status") or {})
        if ours is not None:
            self.pod["status"] = ours
        self.wake()

    @property
    def running(self) -> bool:
        """Neither terminating nor finished: its containers are the node's to judge."""
        phase = (self.pod.get("status") or {}).get("phase")
        return not self._terminating and phase not in ("Succeeded", "Failed") and self._eviction is None

    def evict(self, message: str) -> None:
        """Evict the pod (the local-storage eviction's verdict): carried out by the run loop."""
        if self._eviction is None:
            self._eviction = message
            self.wake()

    def mark_gone(self) -> None:
        self.gone = True
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def wake_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._timer.when() <= loop.time() + seconds:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(seconds, self.wake)

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    if self._terminating:
                        await self.terminate()
                        return
                    if self._eviction is not None and (self.pod.get("status") or {}).get("phase") not in (
                        "Succeeded", "Failed"
                    ):
                        await self.terminator.evict(self._eviction)
                    await self.sync()
                except CRIError as err:
                    log.warning("pod %s: runtime error: %s", self._key, err)
                except Exception:
                    log.exception("pod %s: sync failed", self._key)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ctx.resync_s):
                        await self._wake.wait()
        finally:
            self.probes.stop(set())
            if self._timer is not None:
                self._timer.cancel()
            self.done.set()

    async def terminate(self) -> None:
        """Stop the pod for good (:meth:`.terminator.Terminator.terminate`)."""
        await self.terminator.terminate(self.gone, self._wake)

    @property
    def _key(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace')}/{meta.get('name')}"

    @property
    def _terminating(self) -> bool:
        return self.gone or bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    # ---- the sync -----------------------------------------------------------------------
    async def _rejected(self, phase: str | None) -> bool:
        """The kubelet's admission (upstream's): a pod it cannot run is Failed before it runs."""
        refusals = [(FORBIDDEN_REASON, forbidden_sysctl(self.pod, self.ctx.settings.allowed_unsafe_sysctls))]
        if phase in (None, "Pending"):
            refusals.append((APPARMOR_REASON, apparmor_rejection(self.pod, self.ctx.settings.apparmor)))
        for reason, refused in refusals:
            if refused is not None:
                self._event("Warning", reason, refused)
                await self.status.write(self.pod, {}, [], [], failed=(reason, f"Pod was rejected: {refused}"))
                return True
        return False

    async def sync(self) -> None:
        spec = self.pod.get("spec") or {}
        phase = (self.pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return  # terminal: nothing restarts; containers stay for logs until deletion
        if await self.terminator.past_deadline(self.wake_in) or await self._rejected(phase):
            return
        sources = await self._sources.read(self.pod)
        try:
            volume_paths = setup_volumes(self.ctx.root_dir, self.pod, sources)
        except ConfigError as err:
            self.status.waiting.clear()  # in place: the container starter writes to it too
            self.status.waiting.update(
                (c["name"], ("CreateContainerConfigError", str(err))) for c in spec.get("containers", [])
            )
            await self.status.write(self.pod, {}, [], [])
            return
        try:
            sandbox, sb_config = await self.runtime.ensure_sandbox(self.pod)
        except (CRIError, RuntimeClassMissing) as err:
            text = grpc_error_text(err) if isinstance(err, CRIError) else str(err)
            self._event("Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {text}")
            await self.status.write(self.pod, {}, [])
            return
        pod_ips = self.runtime.sandbox_ips.get(sandbox.id, [])
        sources.pod_ip = pod_ips[0] if pod_ips else ""
        sources.pod_ips = tuple(pod_ips)
        by_name = await self.runtime.containers(self.pod)
        now = self.ctx.wall_clock()
        if pod_ips and (self.pod.get("status") or {}).get("podIP") != pod_ips[0]:
            # The new sandbox's address is published before any container starts: the
            # NetworkPolicy agents drop a pod-CIDR address they do not know yet, and a
            # postStart hook blocks this sync (a CNI programs the address at sandbox creation)
            await self.status.write(self.pod, by_name, pod_ips)

        launch = Launch(sandbox.id, sb_config, sources, volume_paths, now)
        actions = plan_pod(
            spec,
            phase,
            by_name,
            started=lambda container, cur: self.probes.flags(container, cur)[1],
            liveness_failed=lambda cur: self.probes.failed(cur.id) is not None,
        )
        changed = False
        for step in actions.steps:
            changed |= await self._execute(step, launch)
        if changed:
            by_name = await self.runtime.containers(self.pod)
        await self._prune(by_name)
        self.probes.sync(spec, by_name, pod_ips)
        current = [history[0] for history in by_name.values() if history]
        if self.status.finished(spec, by_name) and any(c.state == CONTAINER_RUNNING for c in current):
            # The app containers are done: running sidecars are stopped gracefully before the
            # pod is reported terminal (upstream reports no terminal phase while any runs).
            await self.terminator.stop_in_order(current, grace_period(self.pod))
            by_name = await self.runtime.containers(self.pod)
        await self.status.write(self.pod, by_name, pod_ips)
        if (self.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            # Finished for good: release the sandbox (and its IP); containers stay for logs.
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sandbox.id)

    async def _execute(self, step: Step, launch: Launch) -> bool:
        """Carry out one planned step; True when a container was (re)started."""
        if isinstance(step, StartContainer):
            await self.starter.start(self.pod, launch, step.container, step.kind, 0, step.target_id)
            return True
        if isinstance(step, RestartContainer):
            return await self.starter.restart(self.pod, launch, step.container, step.current, step.kind)
        name = step.container["name"]
        kind = self.probes.failed(step.current.id) or LIVENESS
        log.info("pod %s: container %s failed %s probe, restarting", self._key, name, kind)
        self._event("Normal", "Killing", f"Container {name} failed {kind} probe, will be restarted")
        await self.terminator.kill_for_restart(step.container, step.current, kind)
        self.wake()
        return False

    async def _prune(self, by_name: ByName) -> None:
        """Keep the latest two attempts of each container (current + lastState)."""
        for history in by_name.values():
            for old in history[2:]:
                if old.state == CONTAINER_EXITED:
                    with contextlib.suppress(CRIError):
                        await self.ctx.runtime.remove_container(old.id)
