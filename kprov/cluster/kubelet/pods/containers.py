"""Starting one container of a pod: image policy and pull back-off, env, mounts, CRI calls.

:func:`start_container` returns None on success or a (reason, message) waiting state the
pod status shows: ErrImageNeverPull, ErrImagePull / ImagePullBackOff (pulls are retried
with the same exponential back-off as crashes), CreateContainerConfigError (missing
configmap/secret/key, or runAsNonRoot that cannot hold: :mod:`.securitycontext`),
CreateContainerError / RunContainerError (the runtime refused),
PostStartHookError (the postStart hook failed: the container was killed). Every container
gets its termination-message file bound at its terminationMessagePath (:mod:`.lifecycle`).

Image pulls speak upstream's words (pkg/kubelet/images): events ``Pulling`` (Normal, ``Pulling
image "X"``), ``Pulled`` (``Successfully pulled image "X" in 1.2s (1.2s including waiting)`` or
``Container image "X" already present on machine``), ``Failed`` (Warning, ``Failed to pull
image "X": <the CRI error>``), ``BackOff`` (Normal, ``Back-off pulling image "X"``) and
``ErrImageNeverPull``; the ErrImagePull waiting message is the CRI error as a Go gRPC client
prints it: ``rpc error: code = NotFound desc = <containerd's text>``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.cri.types import ContainerInfo
from kprov.cluster.kubelet.pods.backoff import sync_retry_delay
from kprov.cluster.kubelet.pods.env import ConfigError, PodSources, resolve_env
from kprov.cluster.kubelet.pods.etchosts import HOSTS_PATH, hosts_content, manages_hosts, write_hosts
from kprov.cluster.kubelet.pods.lifecycle import DEFAULT_TERMINATION_PATH, run_hook, termination_file
from kprov.cluster.kubelet.pods.podconfig import container_config
from kprov.cluster.kubelet.pods.probes import Prober, ProbeTarget
from kprov.cluster.kubelet.pods.securitycontext import needs_image_user, non_root_violation
from kprov.cluster.kubelet.volumes.pod_volumes import MountSpec, container_devices, container_mounts, pod_dir

__all__ = ["ContainerStarter", "EventSink", "Launch", "Waiting", "ensure_image", "go_duration",
           "grpc_error_text", "pull_policy", "start_container"]

Obj = Mapping[str, Any]
Waiting = tuple[str, str]
EventSink = Callable[[str, str, str], None]  # (type, reason, message)
IMAGE_WAITING = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull")

# grpc-go's names of the status codes (codes.Code.String()), by Python's StatusCode names
_GO_CODES = {
    "OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown", "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied", "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted", "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented", "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated",
}


def grpc_error_text(err: CRIError) -> str:
    """The error as grpc-go's ``status.Error`` prints it (what upstream's kubelet shows)."""
    code = _GO_CODES.get(err.code, err.code)
    return f"rpc error: code = {code} desc = {err.details}"


def go_duration(seconds: float) -> str:
    """A duration truncated to milliseconds as Go's ``time.Duration.String`` prints it."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, ms = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def _no_events(event_type: str, reason: str, message: str) -> None:
    return None


def pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


async def ensure_image(
    ctx: KubeletContext, pod: Obj, container: Obj, event: EventSink = _no_events
) -> tuple[str | None, Waiting | None]:
    """(image ref, None) when the image is usable, else (None, waiting state); ``event``
    receives the pull's events."""
    image = str(container.get("image", ""))
    uid = (pod.get("metadata") or {}).get("uid", "")
    policy = pull_policy(container)
    present = await ctx.runtime.image_ref(image)
    if policy == "Never" or (policy == "IfNotPresent" and present):
        if present:
            event("Normal", "Pulled", f'Container image "{image}" already present on machine')
            return present, None
        message = f'Container image "{image}" is not present with pull policy of Never'
        event("Warning", "ErrImageNeverPull", message)
        return None, ("ErrImageNeverPull", message)
    key = f"image:{uid}/{container.get('name', '')}"
    now = ctx.wall_clock()
    if ctx.backoff.remaining(key, ctx.backoff_last.get(key, 0.0), now) > 0:
        message = f'Back-off pulling image "{image}"'
        event("Normal", "BackOff", message)
        return None, ("ImagePullBackOff", message)
    event("Normal", "Pulling", f'Pulling image "{image}"')
    started = time.monotonic()
    try:
        ref = await ctx.runtime.pull_image(image)
    except CRIError as err:
        text = grpc_error_text(err)
        event("Warning", "Failed", f'Failed to pull image "{image}": {text}')
        ctx.backoff.record(key, now)
        ctx.backoff_last[key] = now
        return None, ("ErrImagePull", text)
    took = go_duration(time.monotonic() - started)
    event("Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting)')
    ctx.backoff.forget(key)
    return ref, None


async def start_container(
    ctx: KubeletContext,
    pod: Obj,
    container: Obj,
    *,
    kind: str,
    attempt: int,
    sandbox_id: str,
    sandbox_config: pb.PodSandboxConfig,
    sources: PodSources,
    volume_paths: Mapping[str, str],
    target_id: str = "",
    event: EventSink = _no_events,
) -> Waiting | None:
    ref, waiting = await ensure_image(ctx, pod, container, event)
    if waiting is not None or ref is None:
        return waiting
    try:
        env = resolve_env(pod, container, sources)
        mounts = container_mounts(container, volume_paths, dict(env))
        mounts.append(_termination_mount(ctx, pod, container, attempt))
        if manages_hosts(pod, container):
            mounts.append(_hosts_mount(ctx, pod, sources))
        config = container_config(
            pod, container, attempt, env, mounts, kind=kind, image_ref=ref, target_id=target_id,
            settings=ctx.settings, devices=container_devices(container, volume_paths),
        )
    except (ConfigError, ValueError) as err:
        return ("CreateContainerConfigError", str(err))
    if needs_image_user(pod, container):
        uid, username = await ctx.runtime.image_user(ref)
        refused = non_root_violation(pod, container, uid, username)
    else:
        refused = non_root_violation(pod, container, None, "")
    if refused is not None:
        return ("CreateContainerConfigError", refused)
    try:
        container_id = await ctx.runtime.create_container(sandbox_id, config, sandbox_config)
    except CRIError as err:
        return ("CreateContainerError", err.details)
    try:
        await ctx.runtime.start_container(container_id)
    except CRIError as err:
        return ("RunContainerError", err.details)
    hook = (container.get("lifecycle") or {}).get("postStart")
    if hook:
        ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
        failure = await run_hook(Prober(ctx.runtime), hook, ProbeTarget(container_id, sources.pod_ip, ports))
        if failure:
            await ctx.runtime.stop_container(container_id, 0)
            return ("PostStartHookError", failure)
    return None


def _hosts_mount(ctx: KubeletContext, pod: Obj, sources: PodSources) -> MountSpec:
    uid = (pod.get("metadata") or {}).get("uid", "")
    path = pod_dir(ctx.root_dir, uid) / "etc-hosts"
    ips = [sources.pod_ip] if sources.pod_ip else []
    write_hosts(path, hosts_content(pod, ips, ctx.settings.cluster_domain))
    return MountSpec(container_path=HOSTS_PATH, host_path=str(path), readonly=False)


def _termination_mount(ctx: KubeletContext, pod: Obj, container: Obj, attempt: int) -> MountSpec:
    """A fresh, world-writable file for the container's termination message (any user may write it)."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    path = termination_file(pod_dir(ctx.root_dir, uid), str(container.get("name", "")), attempt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    path.chmod(0o666)
    target = container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH
    return MountSpec(container_path=str(target), host_path=str(path), readonly=False)


@dataclass(frozen=True)
class Launch:
    """What starting any container in one sync needs: the sandbox, the sources, the volumes."""

    sandbox_id: str
    sandbox_config: Any
    sources: PodSources
    volume_paths: dict[str, str]
    now: float


class ContainerStarter:
    """One pod's container starts: a failed start is tried again only after upstream's
    pod-worker back-off, however often the worker wakes meanwhile; an exited container is
    restarted after its CrashLoopBackOff delay. The waiting states go to ``waiting`` (the
    status manager's), for the pod status to show."""

    def __init__(
        self,
        ctx: KubeletContext,
        uid: str,
        waiting: dict[str, Waiting],
        event: EventSink,
        wake_in: Callable[[float], None],
    ) -> None:
        self.ctx = ctx
        self.random: Callable[[], float] = random.random  # the retry's jitter
        self._uid = uid
        self._waiting = waiting
        self._event = event
        self._wake_in = wake_in
        self._retry_at: dict[str, float] = {}  # container -> when a failed start may be retried

    def forget_retries(self) -> None:
        """The pod changed: its containers are tried again at once (upstream's UpdatePod)."""
        self._retry_at.clear()

    async def start(
        self,
        pod: dict[str, Any],
        launch: Launch,
        container: Obj,
        kind: str,
        attempt: int,
        target_id: str = "",
    ) -> None:
        """Start one container; a failed start waits in its state until the retry is due."""
        name = container["name"]
        if self._retry_pending(name, launch.now):
            return  # the last attempt's waiting state stands until the retry is due
        waiting = await start_container(
            self.ctx,
            pod,
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
            self._wake_in(0.5)
        else:
            # upstream's runtime manager: the reason alone for image errors, else the message
            detail = waiting[0] if waiting[0] in IMAGE_WAITING else waiting[1]
            self._event("Warning", "Failed", f"Error: {detail}")
            self._waiting[name] = waiting
            delay = sync_retry_delay(self.random)
            self._retry_at[name] = launch.now + delay
            self._wake_in(delay)

    def _retry_pending(self, name: str, now: float) -> bool:
        """Whether the container's last start failed and its retry is not due yet (upstream's
        pod worker retries a failed sync after its back-off period, whatever wakes it)."""
        due = self._retry_at.get(name)
        if due is None or now >= due:
            return False
        self._wake_in(due - now)
        return True

    async def restart(
        self, pod: dict[str, Any], launch: Launch, container: Obj, cur: ContainerInfo, kind: str
    ) -> bool:
        """Restart an exited container once its CrashLoopBackOff delay has passed."""
        now = launch.now
        if self._retry_pending(container["name"], now):
            return False
        key = f"{self._uid}/{container['name']}"
        since = (cur.finished_at_ns or cur.created_at_ns) / 1e9
        wait = self.ctx.backoff.remaining(key, since, now)
        if wait > 0:
            delay = int(self.ctx.backoff.current_delay(key))
            meta = pod["metadata"]
            self._waiting[container["name"]] = (
                "CrashLoopBackOff",
                f"back-off {delay}s restarting failed container={container['name']} "
                f"pod={meta.get('name')}_{meta.get('namespace')}({self._uid})",
            )
            self._wake_in(wait)
            self._event("Warning", "BackOff", f"Back-off restarting failed container {container['name']}")
            return False
        self.ctx.backoff.record(key, now)
        await self.start(pod, launch, container, kind, cur.attempt + 1)
        return True
