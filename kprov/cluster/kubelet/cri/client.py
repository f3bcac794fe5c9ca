"""An asyncio CRI v1 client: RuntimeService and ImageService over a unix socket (grpc.aio).

Requests are built by the caller as protobuf config messages (see
:mod:`kprov.cluster.kubelet.pods.podconfig`); replies come back as the plain dataclasses of
:mod:`kprov.cluster.kubelet.cri.types`. Every RPC failure is raised as :class:`CRIError`
with the gRPC status code name, so callers can tell ``NOT_FOUND`` from real failures
without importing grpc.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import grpc.aio

from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.cri.generated import api_pb2_grpc as pb_grpc
from kprov.cluster.kubelet.cri.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    CONTAINER_UNKNOWN,
    ContainerInfo,
    ExecResult,
    RuntimeVersion,
    SandboxInfo,
)

__all__ = ["CRIClient", "CRIError", "endpoint_target", "netns_path"]

T = TypeVar("T")

_STATES = {
    pb.CONTAINER_CREATED: CONTAINER_CREATED,
    pb.CONTAINER_RUNNING: CONTAINER_RUNNING,
    pb.CONTAINER_EXITED: CONTAINER_EXITED,
    pb.CONTAINER_UNKNOWN: CONTAINER_UNKNOWN,
}


class CRIError(Exception):
    """A CRI call failed; ``code`` is the gRPC status name (e.g. ``NOT_FOUND``)."""

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"CRI {method}: {code}: {details}")
        self.method = method
        self.code = code
        self.details = details

    @property
    def not_found(self) -> bool:
        return self.code == "NOT_FOUND"


def endpoint_target(endpoint: str) -> str:
    """``unix:///run/containerd/containerd.sock`` or a bare path -> a grpc target."""
    if endpoint.startswith("unix://"):
        return "unix:" + endpoint[len("unix://") :]
    if endpoint.startswith("/"):
        return "unix:" + endpoint
    raise ValueError(f"container runtime endpoint {endpoint!r}: expected unix:///path/to.sock")


def _sandbox_from(msg: Any, ip: str = "", extra: tuple[str, ...] = ()) -> SandboxInfo:
    meta = msg.metadata
    return SandboxInfo(
        id=msg.id,
        pod_uid=meta.uid,
        pod_name=meta.name,
        pod_namespace=meta.namespace,
        attempt=meta.attempt,
        ready=msg.state == pb.SANDBOX_READY,
        created_at_ns=msg.created_at,
        ip=ip,
        additional_ips=extra,
        labels=dict(msg.labels),
        annotations=dict(msg.annotations),
    )


def netns_path(info: dict[str, str]) -> str | None:
    """The network namespace in a verbose PodSandboxStatus ``info`` map (containerd's: the
    ``runtimeSpec``'s network namespace, else the sandbox process's)."""
    try:
        data: dict[str, Any] = json.loads(info.get("info") or "{}")
    except ValueError:
        return None
    for namespace in ((data.get("runtimeSpec") or {}).get("linux") or {}).get("namespaces") or []:
        if namespace.get("type") == "network" and namespace.get("path"):
            return str(namespace["path"])
    pid = data.get("pid")
    return f"/proc/{pid}/ns/net" if isinstance(pid, int) and pid > 0 else None


class CRIClient:
    """One gRPC channel to the runtime; cheap to share across all pod workers."""

    def __init__(self, endpoint: str, *, timeout: float = 120.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            endpoint_target(endpoint), options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        )
        self._runtime = pb_grpc.RuntimeServiceStub(self._channel)
        self._images = pb_grpc.ImageServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(
        self, name: str, rpc: Callable[..., Awaitable[T]], request: Any, timeout: float | None = None
    ) -> T:
        try:
            return await rpc(request, timeout=timeout or self.timeout)
        except grpc.aio.AioRpcError as err:
            raise CRIError(name, err.code().name, err.details() or "") from None

    # ---- runtime -------------------------------------------------------------------------
    async def version(self) -> RuntimeVersion:
        reply = await self._call("Version", self._runtime.Version, pb.VersionRequest(version="v1"), 10)
        return RuntimeVersion(reply.runtime_name, reply.runtime_version, reply.runtime_api_version)

    async def runtime_conditions(self) -> dict[str, bool]:
        reply = await self._call("Status", self._runtime.Status, pb.StatusRequest(), 10)
        return {c.type: c.status for c in reply.status.conditions}

    # ---- sandboxes -----------------------------------------------------------------------
    async def run_sandbox(self, config: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        request = pb.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        reply = await self._call("RunPodSandbox", self._runtime.RunPodSandbox, request)
        return reply.pod_sandbox_id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        await self._call(
            "StopPodSandbox",
            self._runtime.StopPodSandbox,
            pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
        )

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self._call(
            "RemovePodSandbox",
            self._runtime.RemovePodSandbox,
            pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
        )

    async def sandbox_status(self, sandbox_id: str) -> SandboxInfo:
        reply = await self._call(
            "PodSandboxStatus",
            self._runtime.PodSandboxStatus,
            pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
        )
        status = reply.status
        extra = tuple(ip.ip for ip in status.network.additional_ips)
        return _sandbox_from(status, status.network.ip, extra)

    async def sandbox_netns(self, sandbox_id: str) -> str | None:
        """The sandbox's network namespace (a path to open), from the verbose status."""
        reply = await self._call(
            "PodSandboxStatus",
            self._runtime.PodSandboxStatus,
            pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True),
        )
        return netns_path(dict(reply.info))

    async def list_sandboxes(self, labels: dict[str, str] | None = None) -> list[SandboxInfo]:
        request = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(label_selector=labels or {}))
        reply = await self._call("ListPodSandbox", self._runtime.ListPodSandbox, request)
        return [_sandbox_from(item) for item in reply.items]

    # ---- containers ----------------------------------------------------------------------
    async def create_container(
        self, sandbox_id: str, config: pb.ContainerConfig, sandbox_config: pb.PodSandboxConfig
    ) -> str:
        request = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
        )
        reply = await self._call("CreateContainer", self._runtime.CreateContainer, request)
        return reply.container_id

    async def start_container(self, container_id: str) -> None:
        await self._call(
            "StartContainer",
            self._runtime.StartContainer,
            pb.StartContainerRequest(container_id=container_id),
        )

    async def stop_container(self, container_id: str, timeout_s: int) -> None:
        request = pb.StopContainerRequest(container_id=container_id, timeout=max(0, timeout_s))
        await self._call(
            "StopContainer", self._runtime.StopContainer, request, timeout=timeout_s + self.timeout
        )

    async def remove_container(self, container_id: str) -> None:
        await self._call(
            "RemoveContainer",
            self._runtime.RemoveContainer,
            pb.RemoveContainerRequest(container_id=container_id),
        )

    async def list_containers(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
        request = pb.ListContainersRequest(filter=pb.ContainerFilter(label_selector=labels or {}))
        reply = await self._call("ListContainers", self._runtime.ListContainers, request)
        return [
            ContainerInfo(
                id=c.id,
                sandbox_id=c.pod_sandbox_id,
                name=c.metadata.name,
                attempt=c.metadata.attempt,
                state=_STATES.get(c.state, CONTAINER_UNKNOWN),
                created_at_ns=c.created_at,
                image=c.image.image,
                image_ref=c.image_ref,
                labels=dict(c.labels),
                annotations=dict(c.annotations),
            )
            for c in reply.containers
        ]

    async def list_container_stats(self) -> list[Any]:
        """CRI ListContainerStats: every container's ContainerStats message (cumulative CPU,
        working set, its attributes' labels)."""
        request = pb.ListContainerStatsRequest(filter=pb.ContainerStatsFilter())
        reply = await self._call("ListContainerStats", self._runtime.ListContainerStats, request, 10)
        return list(reply.stats)

    async def container_status(self, container_id: str) -> ContainerInfo:
        reply = await self._call(
            "ContainerStatus",
            self._runtime.ContainerStatus,
            pb.ContainerStatusRequest(container_id=container_id),
        )
        s = reply.status
        return ContainerInfo(
            id=s.id,
            sandbox_id=s.labels.get("io.kubernetes.sandbox.id", ""),
            name=s.metadata.name,
            attempt=s.metadata.attempt,
            state=_STATES.get(s.state, CONTAINER_UNKNOWN),
            created_at_ns=s.created_at,
            started_at_ns=s.started_at,
            finished_at_ns=s.finished_at,
            exit_code=s.exit_code,
            reason=s.reason,
            message=s.message,
            image=s.image.image,
            image_ref=s.image_ref,
            log_path=s.log_path,
            labels=dict(s.labels),
            annotations=dict(s.annotations),
        )

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult:
        request = pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout_s)
        deadline = (timeout_s + 10) if timeout_s else None
        reply = await self._call("ExecSync", self._runtime.ExecSync, request, timeout=deadline or 24 * 3600)
        return ExecResult(reply.stdout, reply.stderr, reply.exit_code)

    async def attach(self, container_id: str, stdin: bool, tty: bool, stdout: bool, stderr: bool) -> str:
        """The runtime's streaming-server URL for attaching to the container's main process."""
        request = pb.AttachRequest(
            container_id=container_id, stdin=stdin, tty=tty, stdout=stdout, stderr=stderr
        )
        reply = await self._call("Attach", self._runtime.Attach, request, 30)
        return str(reply.url)

    # ---- images --------------------------------------------------------------------------
    async def image_ref(self, image: str) -> str | None:
        """The image's id on the node, or None when it is not present."""
        request = pb.ImageStatusRequest(image=pb.ImageSpec(image=image))
        reply = await self._call("ImageStatus", self._images.ImageStatus, request, 30)
        return reply.image.id if reply.HasField("image") and reply.image.id else None

    async def image_user(self, image: str) -> tuple[int | None, str]:
        """The image's user as the runtime reports it: (uid, "") when numeric, (None, name)
        when a name, (None, "") when the image names none (it runs as root)."""
        request = pb.ImageStatusRequest(image=pb.ImageSpec(image=image))
        reply = await self._call("ImageStatus", self._images.ImageStatus, request, 30)
        if not reply.HasField("image"):
            return None, ""
        uid = reply.image.uid.value if reply.image.HasField("uid") else None
        return uid, str(reply.image.username)

    async def pull_image(self, image: str, timeout_s: float = 300.0) -> str:
        request = pb.PullImageRequest(image=pb.ImageSpec(image=image))
        reply = await self._call("PullImage", self._images.PullImage, request, timeout_s)
        return reply.image_ref
