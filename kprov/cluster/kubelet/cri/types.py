"""Plain data the kubelet reads back from a CRI runtime (no protobuf outside the cri package).

The CRI client converts runtime replies into these frozen dataclasses, so the pod sync,
status computation and tests work on simple values; :class:`FakeRuntime`-style test doubles
build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CONTAINER_CREATED",
    "CONTAINER_EXITED",
    "CONTAINER_RUNNING",
    "CONTAINER_UNKNOWN",
    "ContainerInfo",
    "ExecResult",
    "RuntimeVersion",
    "SandboxInfo",
]

CONTAINER_CREATED = "created"
CONTAINER_RUNNING = "running"
CONTAINER_EXITED = "exited"
CONTAINER_UNKNOWN = "unknown"


@dataclass(frozen=True)
class RuntimeVersion:
    runtime_name: str
    runtime_version: str
    runtime_api_version: str


@dataclass(frozen=True)
class SandboxInfo:
    id: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    attempt: int
    ready: bool
    created_at_ns: int
    ip: str = ""
    additional_ips: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: str  # one of CONTAINER_*
    created_at_ns: int
    started_at_ns: int = 0
    finished_at_ns: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    log_path: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int
