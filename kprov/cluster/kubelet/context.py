"""What every pod worker shares: the runtime, the API, node settings, back-off and clocks.

:class:`PodApi` is the slice of the API server a pod worker needs (configmaps and secrets
by name, writing pod status, the final delete); :class:`KubeletContext` bundles it with the
CRI runtime, node settings and the shared back-off table. Tests pass fakes for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kprov.cluster.kubelet.backoff import Backoff
from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.cri.types import ContainerInfo, ExecResult, SandboxInfo
from kprov.cluster.kubelet.podconfig import NodeSettings

__all__ = ["KubeletContext", "PodApi", "Runtime"]

Obj = Mapping[str, Any]


class PodApi(Protocol):
    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def write_pod_status(self, pod: Obj, status: dict[str, Any]) -> None: ...

    async def delete_pod(self, pod: Obj) -> None: ...

    async def record_event(self, pod: Obj, event_type: str, reason: str, message: str) -> None: ...


class Runtime(Protocol):
    async def run_sandbox(self, config: pb.PodSandboxConfig) -> str: ...
    async def stop_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_sandbox(self, sandbox_id: str) -> None: ...
    async def sandbox_status(self, sandbox_id: str) -> SandboxInfo: ...
    async def list_sandboxes(self, labels: dict[str, str] | None = None) -> list[SandboxInfo]: ...
    async def create_container(
        self, sandbox_id: str, config: pb.ContainerConfig, sandbox_config: pb.PodSandboxConfig
    ) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout_s: int) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def list_containers(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]: ...
    async def container_status(self, container_id: str) -> ContainerInfo: ...
    async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult: ...
    async def attach(self, container_id: str, stdin: bool, tty: bool, stdout: bool, stderr: bool) -> str: ...
    async def image_ref(self, image: str) -> str | None: ...
    async def pull_image(self, image: str, timeout_s: float = 300.0) -> str: ...


@dataclass
class KubeletContext:
    runtime: Runtime
    api: PodApi
    settings: NodeSettings
    root_dir: Path
    node_ip: str
    backoff: Backoff = field(default_factory=Backoff)
    backoff_last: dict[str, float] = field(default_factory=dict)  # key -> time of last failure
    wall_clock: Callable[[], float] = time.time
    resync_s: float = 10.0
    allocatable: dict[str, str] = field(default_factory=dict)  # the node's (resourceFieldRef defaults)
