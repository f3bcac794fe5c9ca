"""One worker per pod: level-based sync of the pod's sandbox and containers with its spec.

Each :meth:`PodWorker.sync` reads the truth from the runtime (the pod's sandboxes and
containers, found by the ``io.kubernetes.pod.uid`` label; the CRI attempt number is the
restart count) and acts on the difference: create the sandbox, run init containers one at
a time to completion, start app containers, restart exited ones per restartPolicy with
CrashLoopBackOff back-off, kill containers whose liveness probe failed, start ephemeral
containers (``kubectl debug``) once each, in their target's PID namespace, and write the
computed status. Because nothing is remembered that the runtime does not hold, a restarted
kubelet adopts running containers instead of restarting them.

A pod being deleted (deletionTimestamp, or gone from the API) is terminated: its probes
stop and a status with readiness forced false is written first; running containers'
preStop hooks run, then containers get StopContainer with what is left of the grace period
(SIGTERM, then SIGKILL); the final status (terminated states, phase Succeeded/Failed) is
written; then sandbox, containers and volumes are removed and the pod object is deleted
with grace 0. An exited container's status carries its
termination message (:mod:`.lifecycle`).

A container whose start failed (image pull, CreateContainerConfigError, CreateContainerError,
RunContainerError) is tried again only after upstream's pod-worker back-off, 10 s plus up to
50 % jitter, however often the worker wakes meanwhile; image pulls themselves back off
exponentially (:mod:`.containers`), and every attempt's events fold into counts in the
recorder, so a failing pod costs the API server a handful of writes a minute.

A pod naming a sysctl the node does not allow is rejected (phase Failed, :mod:`.sysctls`)
before anything runs. The sandbox runs with the handler of the pod's RuntimeClass; a sandbox
the runtime refuses (an unknown handler, a deleted class) leaves the pod Pending with a
``FailedCreatePodSandBox`` event, retried every resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kprov.cluster.api.objects import now_rfc3339, parse_time
from kprov.cluster.client import ApiError
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo, SandboxInfo
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.backoff import sync_retry_delay
from kprov.cluster.kubelet.pods.containers import IMAGE_WAITING, grpc_error_text, start_container
from kprov.cluster.kubelet.pods.env import ConfigError, PodSources
from kprov.cluster.kubelet.pods.lifecycle import run_hook, termination_file, termination_message
from kprov.cluster.kubelet.pods.plan import RestartContainer, StartContainer, Step, is_sidecar, plan_pod
from kprov.cluster.kubelet.pods.podconfig import grace_period, sandbox_config
from kprov.cluster.kubelet.pods.probes import LIVENESS, READINESS, STARTUP, Prober, ProbeTarget, ProbeWorker
from kprov.cluster.kubelet.pods.securitycontext import APPARMOR_REASON, apparmor_rejection
from kprov.cluster.kubelet.pods.servicelinks import service_env
from kprov.cluster.kubelet.pods.status import (
    KUBELET_CONDITIONS,
    ContainerView,
    foreign_conditions,
    pod_phase,
    pod_status,
)
from kprov.cluster.kubelet.pods.sysctls import FORBIDDEN_REASON, forbidden_sysctl
from kprov.cluster.kubelet.volumes.pod_volumes import (
    claim_names,
    pod_dir,
    referenced_sources,
    remove_pod_volumes,
    setup_volumes,
    token_sources,
    volume_source,
)
from kprov.cluster.kubelet.volumes.satokens import PodTokens

__all__ = ["PodWorker"]

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class _Launch:
    """What starting any container in one sync needs: the sandbox, the sources, the volumes."""

    sandbox_id: str
    sandbox_config: Any
    sources: PodSources
    volume_paths: dict[str, str]
    now: float


class RuntimeClassMissing(Exception):
    """The pod's RuntimeClass is gone: its sandbox cannot be made (retried every resync)."""


def _by_name(containers: list[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    out: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        out.setdefault(c.name, []).append(c)
    for items in out.values():
        items.sort(key=lambda c: (c.attempt, c.created_at_ns), reverse=True)
    return out


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
        self._waiting: dict[str, tuple[str, str]] = {}
        self._probe_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._probe_workers: dict[tuple[str, str], ProbeWorker] = {}
        self._probe_results: dict[tuple[str, str], bool] = {}
        self._readiness_changed = False  # while terminating: a verdict the status does not show yet
        self._eviction: str | None = None  # the eviction manager's message, until carried out
        self._sandbox_ips: dict[str, list[str]] = {}
        self._last_status: dict[str, Any] | None = None
        self._prober = Prober(ctx.runtime)
        self._tokens = PodTokens(ctx.api.request_token)
        self._service_vars: tuple[float, dict[str, str]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._retry_at: dict[str, float] = {}  # container -> when a failed start may be retried
        self._identity = _identity(pod)
        self._random: Callable[[], float] = random.random  # the retry's jitter

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
            self._retry_at.clear()
        self.pod = dict(pod)
        if self._last_status is not None:
            # The watch may deliver an object older than our last status write: keep ours, so
            # startTime and condition transition times never move backwards; but the conditions
            # others own (DisruptionTarget, readiness gates) are theirs: take them as the API has them.
            self.pod["status"] = {
                **self._last_status,
                "conditions": foreign_conditions(pod.get("status") or {}) + [
                    c for c in self._last_status.get("conditions") or []
                    if c.get("type") in KUBELET_CONDITIONS
                ],
            }
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
                        await self._evict(self._eviction)
                    await self.sync()
                except CRIError as err:
                    log.warning("pod %s: runtime error: %s", self._key, err)
                except Exception:
                    log.exception("pod %s: sync failed", self._key)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ctx.resync_s):
                        await self._wake.wait()
        finally:
            self._stop_probes(set())
            if self._timer is not None:
                self._timer.cancel()
            self.done.set()

    @property
    def _key(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace')}/{meta.get('name')}"

    @property
    def _terminating(self) -> bool:
        return self.gone or bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    # ---- the sync -----------------------------------------------------------------------
    async def _sources(self) -> PodSources:
        ns = self.pod["metadata"].get("namespace", "default")
        cms, secrets = referenced_sources(self.pod)
        sources = PodSources(host_ip=self.ctx.node_ip, allocatable=self.ctx.allocatable, namespace=ns)
        for name in cms:
            obj = await self.ctx.api.get_config_map(ns, name)
            if obj is not None:
                sources.config_maps[name] = obj
        for name in secrets:
            obj = await self.ctx.api.get_secret(ns, name)
            if obj is not None:
                sources.secrets[name] = obj
        projections = token_sources(self.pod)
        if projections:
            try:
                sources.tokens = await self._tokens.fetch(self.pod, projections)
            except ApiError as err:  # the volume setup reports it; retried soon
                log.warning("pod %s: ServiceAccount token request failed: %s", self._key, err)
                self.wake_in(2.0)
            delay = self._tokens.next_refresh_in()
            if delay is not None:
                self.wake_in(max(1.0, delay))
        sources.service_env = await self._service_env(ns)
        await self._claims(ns, sources)
        return sources

    async def _claims(self, namespace: str, sources: PodSources) -> None:
        """Each bound claim's volume source; an unbound claim is retried soon (volume setup
        reports it meanwhile)."""
        for name in claim_names(self.pod):
            try:
                claim = await self.ctx.api.get_claim(namespace, name)
                bound = (claim or {}).get("spec", {}).get("volumeName")
                volume = await self.ctx.api.get_volume(bound) if bound else None
            except ApiError as err:
                log.warning("pod %s: claim %s not read: %s", self._key, name, err)
                volume = None
            source = volume_source(volume) if volume is not None else None
            if source is None:
                self.wake_in(2.0)
                continue
            sources.claims[name] = source

    async def _service_env(self, namespace: str) -> dict[str, str]:
        """The service variables, read at most every 30 s per pod (upstream reads an informer)."""
        now = time.monotonic()
        if self._service_vars is not None and now - self._service_vars[0] < 30.0:
            return self._service_vars[1]
        links = (self.pod.get("spec") or {}).get("enableServiceLinks") is not False
        try:
            master = await self.ctx.api.master_service()
            services = await self.ctx.api.services(namespace) if links else []
        except ApiError as err:
            log.warning("pod %s: services not listed: %s", self._key, err)
            return self._service_vars[1] if self._service_vars is not None else {}
        env = service_env(namespace, links, master, services)
        self._service_vars = (now, env)
        return env

    async def _ensure_sandbox(self) -> tuple[SandboxInfo, Any]:
        sandboxes = await self.ctx.runtime.list_sandboxes({L.POD_UID: self.uid})
        sandboxes.sort(key=lambda s: (s.attempt, s.created_at_ns), reverse=True)
        ready = [s for s in sandboxes if s.ready]
        if ready:
            sandbox = ready[0]
            config = sandbox_config(self.ctx.settings, self.pod, sandbox.attempt)
        else:
            attempt = sandboxes[0].attempt + 1 if sandboxes else 0
            for old in sandboxes:  # a dead sandbox: its containers go with it
                for c in await self.ctx.runtime.list_containers({L.POD_UID: self.uid}):
                    if c.sandbox_id == old.id and c.state == CONTAINER_RUNNING:
                        await self.ctx.runtime.stop_container(c.id, 0)
            config = sandbox_config(self.ctx.settings, self.pod, attempt)
            sandbox_id = await self.ctx.runtime.run_sandbox(config, await self._runtime_handler())
            sandbox = await self.ctx.runtime.sandbox_status(sandbox_id)
            self._sandbox_ips[sandbox.id] = self._ips_of(sandbox)
        if sandbox.id not in self._sandbox_ips:
            self._sandbox_ips[sandbox.id] = self._ips_of(await self.ctx.runtime.sandbox_status(sandbox.id))
        return sandbox, config

    def _ips_of(self, sandbox: SandboxInfo) -> list[str]:
        """The pod's IPs: its sandbox's, or the node's for a hostNetwork pod (as upstream)."""
        ips = [ip for ip in (sandbox.ip, *sandbox.additional_ips) if ip]
        if not ips and (self.pod.get("spec") or {}).get("hostNetwork") and self.ctx.node_ip:
            return [self.ctx.node_ip]
        return ips

    async def _runtime_handler(self) -> str:
        """The CRI handler of the pod's RuntimeClass ("" for the runtime's default)."""
        name = (self.pod.get("spec") or {}).get("runtimeClassName")
        if not name:
            return ""
        found = await self.ctx.api.get_runtime_class(str(name))
        if found is None:
            raise RuntimeClassMissing(f'runtimeclass.node.k8s.io "{name}" not found')
        return str(found.get("handler") or "")

    async def _containers(self) -> dict[str, list[ContainerInfo]]:
        listed = await self.ctx.runtime.list_containers({L.POD_UID: self.uid})
        detailed = []
        for c in listed:
            try:
                detailed.append(await self.ctx.runtime.container_status(c.id))
            except CRIError as err:
                if not err.not_found:
                    raise
        sandbox_of = {c.id: c.sandbox_id for c in listed}
        fixed = [
            self._with_message(replace(d, sandbox_id=sandbox_of.get(d.id, d.sandbox_id))) for d in detailed
        ]
        return _by_name(fixed)

    def _with_message(self, info: ContainerInfo) -> ContainerInfo:
        """An exited container's termination message, as its status shows it."""
        if info.state != CONTAINER_EXITED or info.message:
            return info
        spec = self.pod.get("spec") or {}
        container = next(
            (c for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or []),
                         *(spec.get("ephemeralContainers") or [])]
             if c.get("name") == info.name),
            None,
        )
        if container is None:
            return info
        path = termination_file(pod_dir(self.ctx.root_dir, self.uid), info.name, info.attempt)
        message = termination_message(container, path, info.exit_code, info.log_path)
        return replace(info, message=message) if message else info

    async def sync(self) -> None:
        spec = self.pod.get("spec") or {}
        phase = (self.pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return  # terminal: nothing restarts; containers stay for logs until deletion
        if await self._past_deadline(spec):
            return
        rejected = forbidden_sysctl(self.pod, self.ctx.settings.allowed_unsafe_sysctls)
        if rejected is not None:  # upstream's kubelet admission: the pod never runs here
            self._event("Warning", FORBIDDEN_REASON, rejected)
            await self._write_status({}, [], [], failed=(FORBIDDEN_REASON, f"Pod was rejected: {rejected}"))
            return
        refused = apparmor_rejection(self.pod, self.ctx.settings.apparmor)
        if refused is not None and phase in (None, "Pending"):
            self._event("Warning", APPARMOR_REASON, refused)
            await self._write_status({}, [], [], failed=(APPARMOR_REASON, f"Pod was rejected: {refused}"))
            return
        sources = await self._sources()
        try:
            volume_paths = setup_volumes(self.ctx.root_dir, self.pod, sources)
        except ConfigError as err:
            self._waiting = {
                c["name"]: ("CreateContainerConfigError", str(err)) for c in spec.get("containers", [])
            }
            await self._write_status({}, [], [])
            return
        try:
            sandbox, sb_config = await self._ensure_sandbox()
        except (CRIError, RuntimeClassMissing) as err:
            text = grpc_error_text(err) if isinstance(err, CRIError) else str(err)
            self._event("Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {text}")
            await self._write_status({}, [], spec.get("initContainers") or [])
            return
        pod_ips = self._sandbox_ips.get(sandbox.id, [])
        sources.pod_ip = pod_ips[0] if pod_ips else ""
        by_name = await self._containers()
        now = self.ctx.wall_clock()
        if pod_ips and (self.pod.get("status") or {}).get("podIP") != pod_ips[0]:
            # The new sandbox's address is published before any container starts: the
            # NetworkPolicy agents drop a pod-CIDR address they do not know yet, and a
            # postStart hook blocks this sync (a CNI programs the address at sandbox creation)
            await self._write_status_from(by_name, pod_ips)

        launch = _Launch(sandbox.id, sb_config, sources, volume_paths, now)
        actions = plan_pod(
            spec,
            phase,
            by_name,
            started=lambda container, cur: self._flags(container, cur)[1],
            liveness_failed=lambda cur: self._failed_probe(cur.id) is not None,
        )
        changed = False
        for step in actions.steps:
            changed |= await self._execute(step, launch)
        if changed:
            by_name = await self._containers()
        await self._prune(by_name)
        self._sync_probes(by_name, pod_ips)
        current = [history[0] for history in by_name.values() if history]
        if self._finished(by_name) and any(c.state == CONTAINER_RUNNING for c in current):
            # The app containers are done: running sidecars are stopped gracefully before the
            # pod is reported terminal (upstream reports no terminal phase while any runs).
            await self._stop_in_order(current, grace_period(self.pod))
            by_name = await self._containers()
        await self._write_status_from(by_name, pod_ips)
        if (self.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            # Finished for good: release the sandbox (and its IP); containers stay for logs.
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sandbox.id)

    async def _start(
        self, launch: _Launch, container: Obj, kind: str, attempt: int, target_id: str = ""
    ) -> None:
        """Start one container; a failed start waits in its state until the retry is due."""
        name = container["name"]
        if self._retry_pending(name, launch.now):
            return  # the last attempt's waiting state stands until the retry is due
        waiting = await start_container(
            self.ctx,
            self.pod,
            container,
            kind=kind,
            attempt=attempt,
            sandbox_id=launch.sandbox_id,
            sandbox_config=launch.sandbox_config,
            sources=launch.sources,
            volume_paths=launch.volume_paths,
            target_id=target_id,
            event=self._event,
        )
        if waiting is None:
            self._waiting.pop(name, None)
            self._retry_at.pop(name, None)
            self._event("Normal", "Started", f"Started container {name}")
        elif waiting[0] == "PostStartHookError":
            self._waiting.pop(name, None)  # killed: the exited container shows it
            self._event("Warning", "FailedPostStartHook", waiting[1])
            self.wake_in(0.5)
        else:
            # upstream's runtime manager: the reason alone for image errors, else the message
            detail = waiting[0] if waiting[0] in IMAGE_WAITING else waiting[1]
            self._event("Warning", "Failed", f"Error: {detail}")
            self._waiting[name] = waiting
            delay = sync_retry_delay(self._random)
            self._retry_at[name] = launch.now + delay
            self.wake_in(delay)

    async def _execute(self, step: Step, launch: _Launch) -> bool:
        """Carry out one planned step; True when a container was (re)started."""
        if isinstance(step, StartContainer):
            await self._start(launch, step.container, step.kind, 0, step.target_id)
            return True
        if isinstance(step, RestartContainer):
            return await self._restart(launch, step.container, step.current, step.kind)
        name = step.container["name"]
        kind = self._failed_probe(step.current.id) or LIVENESS
        log.info("pod %s: container %s failed %s probe, restarting", self._key, name, kind)
        self._event("Normal", "Killing", f"Container {name} failed {kind} probe, will be restarted")
        await self._kill_for_restart(step.container, step.current, kind)
        self.wake()
        return False

    async def _kill_for_restart(self, container: Obj, cur: ContainerInfo, kind: str = LIVENESS) -> None:
        """Kill a container whose liveness (or startup) probe failed as upstream's kubelet
        kills any: its preStop hook first, then the stop signal, within that probe's
        terminationGracePeriodSeconds (else the pod's)."""
        probe = container.get("startupProbe" if kind == STARTUP else "livenessProbe") or {}
        probe_grace = probe.get("terminationGracePeriodSeconds")
        grace = int(probe_grace) if probe_grace is not None else grace_period(self.pod)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await self._pre_stop(cur, grace)
        await self.ctx.runtime.stop_container(cur.id, max(2, grace - int(loop.time() - began)))

    def _finished(self, by_name: dict[str, list[ContainerInfo]]) -> bool:
        """Whether the pod's phase is now Succeeded or Failed (by its app containers)."""
        spec = self.pod.get("spec") or {}
        phase = pod_phase(
            spec.get("restartPolicy", "Always"),
            self._views(list(spec.get("initContainers") or []), by_name),
            self._views(list(spec.get("containers") or []), by_name),
        )
        return phase in ("Succeeded", "Failed")

    async def _past_deadline(self, spec: Obj) -> bool:
        """activeDeadlineSeconds: past it, the pod's containers are stopped and it is Failed."""
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time((self.pod.get("status") or {}).get("startTime"))
        if not deadline or started is None:
            return False
        left = float(deadline) - (self.ctx.wall_clock() - started.timestamp())
        if left > 0:
            self.wake_in(left)
            return False
        message = "Pod was active on the node longer than the specified deadline"
        await self._fail_pod("Normal", "DeadlineExceeded", message, grace_period(self.pod))
        return True

    async def _evict(self, message: str) -> None:
        """Kill the pod's containers at once (upstream evicts for local storage with no grace),
        then report it Failed, reason Evicted, with a DisruptionTarget condition; the pod object
        stays for its owner to replace."""
        await self._fail_pod("Warning", "Evicted", message, 0)

    async def _fail_pod(self, event_type: str, reason: str, message: str, grace: int) -> None:
        """The kubelet ends the pod itself: its containers stopped within ``grace``, the event,
        phase Failed with ``reason``, the sandbox released (the pod object stays)."""
        running = [c for c in await self.ctx.runtime.list_containers({L.POD_UID: self.uid})
                   if c.state == CONTAINER_RUNNING]
        await asyncio.gather(*(self.ctx.runtime.stop_container(c.id, grace) for c in running),
                             return_exceptions=True)
        await self._until_stopped()
        self._event(event_type, reason, message)
        spec = self.pod.get("spec") or {}
        await self._write_status(
            await self._containers(), self._last_ips(), spec.get("initContainers") or [],
            failed=(reason, message),
        )
        for sandbox in await self.ctx.runtime.list_sandboxes({L.POD_UID: self.uid}):
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sandbox.id)

    def _last_ips(self) -> list[str]:
        return [ip["ip"] for ip in (self.pod.get("status") or {}).get("podIPs") or []]

    def _retry_pending(self, name: str, now: float) -> bool:
        """Whether the container's last start failed and its retry is not due yet (upstream's
        pod worker retries a failed sync after its back-off period, whatever wakes it)."""
        due = self._retry_at.get(name)
        if due is None or now >= due:
            return False
        self.wake_in(due - now)
        return True

    async def _restart(self, launch: _Launch, container: Obj, cur: ContainerInfo, kind: str) -> bool:
        now = launch.now
        if self._retry_pending(container["name"], now):
            return False
        key = f"{self.uid}/{container['name']}"
        since = (cur.finished_at_ns or cur.created_at_ns) / 1e9
        wait = self.ctx.backoff.remaining(key, since, now)
        if wait > 0:
            delay = int(self.ctx.backoff.current_delay(key))
            meta = self.pod["metadata"]
            self._waiting[container["name"]] = (
                "CrashLoopBackOff",
                f"back-off {delay}s restarting failed container={container['name']} "
                f"pod={meta.get('name')}_{meta.get('namespace')}({self.uid})",
            )
            self.wake_in(wait)
            self._event("Warning", "BackOff", f"Back-off restarting failed container {container['name']}")
            return False
        self.ctx.backoff.record(key, now)
        await self._start(launch, container, kind, cur.attempt + 1)
        return True

    async def _prune(self, by_name: dict[str, list[ContainerInfo]]) -> None:
        """Keep the latest two attempts of each container (current + lastState)."""
        for history in by_name.values():
            for old in history[2:]:
                if old.state == CONTAINER_EXITED:
                    with contextlib.suppress(CRIError):
                        await self.ctx.runtime.remove_container(old.id)

    # ---- probes -------------------------------------------------------------------------
    def _failed_probe(self, container_id: str) -> str | None:
        """The probe kind whose failure kills the container (liveness, or a startup probe
        past its failureThreshold, as upstream's kubelet), or None."""
        for kind in (LIVENESS, STARTUP):
            if self._probe_results.get((container_id, kind)) is False:
                return kind
        return None

    def _on_probe(self, container_id: str, kind: str, result: bool, message: str) -> None:
        key = (container_id, kind)
        if kind == READINESS and self._terminating and self._probe_results.get(key) != result:
            self._readiness_changed = True
        self._probe_results[key] = result
        if kind == STARTUP and result:  # the gated probes run at once, as upstream's
            for gated in (LIVENESS, READINESS):
                worker = self._probe_workers.get((container_id, gated))
                if worker is not None:
                    worker.poke()
        self.wake()

    def _sync_probes(self, by_name: dict[str, list[ContainerInfo]], pod_ips: list[str]) -> None:
        wanted: set[tuple[str, str]] = set()
        spec = self.pod.get("spec") or {}
        sidecars = [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
        for container in [*(spec.get("containers") or []), *sidecars]:
            history = by_name.get(container["name"], [])
            cur = history[0] if history else None
            if cur is None or cur.state != CONTAINER_RUNNING:
                continue
            ports = {
                p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")
            }
            target = ProbeTarget(cur.id, pod_ips[0] if pod_ips else "127.0.0.1", ports)
            for kind, field_name in (
                (STARTUP, "startupProbe"),
                (LIVENESS, "livenessProbe"),
                (READINESS, "readinessProbe"),
            ):
                probe = container.get(field_name)
                if not probe:
                    continue
                key = (cur.id, kind)
                wanted.add(key)
                if key in self._probe_tasks:
                    continue
                has_startup = bool(container.get("startupProbe"))
                cid = cur.id

                def gate(cid: str = cid, has_startup: bool = has_startup) -> bool:
                    return not has_startup or self._probe_results.get((cid, STARTUP), False)

                worker = ProbeWorker(
                    kind,
                    probe,
                    target,
                    self._prober,
                    functools.partial(self._on_probe, cid),
                    gate=None if kind == STARTUP else gate,
                    on_event=self._event,
                )
                self._probe_tasks[key] = asyncio.create_task(worker.run())
                self._probe_workers[key] = worker
        self._stop_probes(wanted)

    def _stop_probes(self, keep: set[tuple[str, str]]) -> None:
        for key in [k for k in self._probe_tasks if k not in keep]:
            self._probe_tasks.pop(key).cancel()
            self._probe_workers.pop(key, None)
        for key in [k for k in self._probe_results if k not in keep]:
            del self._probe_results[key]

    def _flags(self, container: Obj, cur: ContainerInfo | None) -> tuple[bool, bool]:
        """(ready, started) of the container's current instance from its probe results."""
        if cur is None or cur.state != CONTAINER_RUNNING:
            return False, False
        ready = not container.get("readinessProbe") or self._probe_results.get((cur.id, READINESS), False)
        if self._terminating:
            # upstream: startup and liveness stop (as successes) once the pod is deleted, while
            # readiness keeps its probe's verdict (no probe: ready) until the container stops, so a
            # terminating endpoint can still serve (EndpointSlice serving=true)
            return ready, True
        started = not container.get("startupProbe") or self._probe_results.get((cur.id, STARTUP), False)
        if not started:
            return False, False
        return ready, True

    # ---- status -------------------------------------------------------------------------
    def _views(self, containers: list[Obj], by_name: dict[str, list[ContainerInfo]]) -> list[ContainerView]:
        views = []
        for container in containers:
            history = by_name.get(container["name"], [])
            cur = history[0] if history else None
            prev = history[1] if len(history) > 1 else None
            waiting = self._waiting.get(container["name"])
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

    async def _write_status_from(self, by_name: dict[str, list[ContainerInfo]], pod_ips: list[str]) -> None:
        spec = self.pod.get("spec") or {}
        await self._write_status(by_name, pod_ips, spec.get("initContainers") or [])

    async def _write_status(
        self,
        by_name: dict[str, list[ContainerInfo]],
        pod_ips: list[str],
        init: list[Obj],
        failed: tuple[str, str] | None = None,
        terminal: bool = False,
    ) -> None:
        spec = self.pod.get("spec") or {}
        status = pod_status(
            self.pod,
            self._views(list(init), by_name),
            self._views(list(spec.get("containers") or []), by_name),
            pod_ips=pod_ips,
            host_ip=self.ctx.node_ip,
            now=now_rfc3339(),
            ephemeral_views=self._views(list(spec.get("ephemeralContainers") or []), by_name),
            terminal=terminal,
        )
        if failed is not None:  # the kubelet failed the pod itself (reason, message)
            status.update(phase="Failed", reason=failed[0], message=failed[1])
            if failed[0] == "Evicted":  # as upstream's eviction manager (PodDisruptionConditions)
                kept = [c for c in status["conditions"] if c.get("type") != "DisruptionTarget"]
                status["conditions"] = [*kept, {
                    "type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(), "reason": "TerminationByKubelet",
                    "message": failed[1],
                }]
        if status == self._last_status:
            return
        await self.ctx.api.write_pod_status(self.pod, status)
        self._last_status = status
        self.pod["status"] = status

    # ---- termination --------------------------------------------------------------------
    async def _write_final_status(self, *, terminal: bool) -> None:
        """The terminating pod's status; ``terminal``: after its containers stopped. Best
        effort: the pod is being deleted either way."""
        if self.gone or (self.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        try:
            by_name = await self._containers()
            spec = self.pod.get("spec") or {}
            await self._write_status(
                by_name, self._last_ips(), spec.get("initContainers") or [], terminal=terminal
            )
        except (CRIError, ApiError) as err:
            log.warning("pod %s: terminating status not written: %s", self._key, err)

    async def _pre_stop(self, info: ContainerInfo, grace: int) -> None:
        """Run the container's preStop hook (if any) within the grace period."""
        spec = self.pod.get("spec") or {}
        container = next(
            (c for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
             if c.get("name") == info.name),
            None,
        )
        hook = ((container or {}).get("lifecycle") or {}).get("preStop")
        if not hook or container is None or info.state != CONTAINER_RUNNING:
            return
        pod_ips = next(iter(self._sandbox_ips.values()), [])
        ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
        target = ProbeTarget(info.id, pod_ips[0] if pod_ips else "", ports)
        try:
            failure = await asyncio.wait_for(run_hook(self._prober, hook, target, float(grace)), grace)
        except TimeoutError:
            failure = f"PreStop hook for container {info.name} did not finish within the grace period"
        if failure:
            self._event("Warning", "FailedPreStopHook", failure)

    async def _stop_in_order(self, containers: list[ContainerInfo], grace: int) -> None:
        """Stop the running ``containers``: app (and ephemeral) containers first, all at once;
        then the native sidecars one by one in reverse order, so a proxy or log shipper
        outlives what it serves (upstream's order). Each gets its preStop hook, then the stop
        signal, within what is left of the one grace period (at least 2 s for the signal)."""
        running = [c for c in containers if c.state in (CONTAINER_RUNNING, "created")]
        sidecars = [c["name"] for c in (self.pod.get("spec") or {}).get("initContainers") or []
                    if is_sidecar(c)]
        waves = [[c for c in running if c.name not in sidecars]]
        waves += [[c for c in running if c.name == name] for name in reversed(sidecars)]
        loop = asyncio.get_running_loop()
        began = loop.time()
        for wave in waves:
            if not wave:
                continue
            left = max(0, grace - int(loop.time() - began))
            await asyncio.gather(*(self._pre_stop(c, left) for c in wave), return_exceptions=True)
            left = max(2, grace - int(loop.time() - began))
            await asyncio.gather(
                *(self.ctx.runtime.stop_container(c.id, left) for c in wave), return_exceptions=True
            )

    async def _reporting_readiness(self, stopping: Awaitable[None]) -> None:
        """Await ``stopping`` (the grace period's container stops), writing the status each
        time a readiness probe's verdict changes meanwhile, as upstream's status manager does:
        a terminating pod that stops being ready stops serving before its containers end."""
        task = asyncio.ensure_future(stopping)
        try:
            while not task.done():
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if self._readiness_changed and not task.done():
                    self._readiness_changed = False
                    await self._write_final_status(terminal=False)
        except asyncio.CancelledError:
            task.cancel()
            raise
        await task

    async def _until_stopped(self) -> None:
        """Wait until the runtime reports none of the pod's containers running. containerd
        answers StopContainer at once for a task that already exited but whose exit it has
        not recorded yet, so its status can still read running for some milliseconds: a
        final status read then would show a deleted pod's container running (upstream's
        syncTerminatingPod checks the same and retries). A container still running after
        half a second is stopped again."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        stopped_again = False
        while True:
            listed = await self.ctx.runtime.list_containers({L.POD_UID: self.uid})
            running = [c for c in listed if c.state == CONTAINER_RUNNING]
            if not running or loop.time() - began > 5:
                return
            if not stopped_again and loop.time() - began > 0.5:
                stopped_again = True
                await asyncio.gather(*(self.ctx.runtime.stop_container(c.id, 2) for c in running),
                                     return_exceptions=True)
            await asyncio.sleep(0.02)

    async def terminate(self) -> None:
        """Stop the pod for good. Startup and liveness probes stop at once, readiness probes go on
        (as upstream) and the status is written before any container is signalled; once they are
        stopped, the final status (terminated container states, Ready=False, phase Succeeded or
        Failed) is written before the pod object is deleted, so watchers see how it ended
        (upstream's syncTerminatingPod)."""
        grace = grace_period(self.pod)
        if not self.gone:
            self._event("Normal", "Killing", f"Stopping pod containers (grace period {grace}s)")
        self._stop_probes({key for key in self._probe_tasks if key[1] == READINESS})
        await self._write_final_status(terminal=False)
        containers = await self.ctx.runtime.list_containers({L.POD_UID: self.uid})
        await self._reporting_readiness(self._stop_in_order(containers, grace))
        await self._until_stopped()
        await self._write_final_status(terminal=True)
        sandboxes = await self.ctx.runtime.list_sandboxes({L.POD_UID: self.uid})
        for sb in sandboxes:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.stop_sandbox(sb.id)
        for c in containers:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.remove_container(c.id)
        for sb in sandboxes:
            with contextlib.suppress(CRIError):
                await self.ctx.runtime.remove_sandbox(sb.id)
        remove_pod_volumes(self.ctx.root_dir, self.uid)
        self.ctx.backoff.forget_prefix(f"{self.uid}/")
        self.ctx.backoff.forget_prefix(f"image:{self.uid}/")
        if not self.gone:
            await self.ctx.api.delete_pod(self.pod)
        log.info("pod %s: terminated and removed", self._key)
