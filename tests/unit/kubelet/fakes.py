"""In-memory CRI runtime and API for pod worker tests (plain data, no I/O)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.cri.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    ContainerInfo,
    ExecResult,
    SandboxInfo,
)
from kprov.cluster.kubelet.pods.podconfig import NodeSettings


def _match(labels: dict[str, str], selector: dict[str, str] | None) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def _pid_mode(config: pb.ContainerConfig) -> str:
    options = config.linux.security_context.namespace_options
    return f"{pb.NamespaceMode.Name(options.pid)}:{options.target_id}"


class FakeRuntime:
    def __init__(self, images: tuple[str, ...] = ("kprov.local/busybox:1",)) -> None:
        self.pulls = 0
        self.images = set(images)
        self.sandboxes: dict[str, SandboxInfo] = {}
        self.containers: dict[str, ContainerInfo] = {}
        self.stopped_with: dict[str, int] = {}
        self.calls: list[str] = []  # exec and stop calls in order
        self.sandbox_configs: list[pb.PodSandboxConfig] = []
        self.exec_exit: dict[str, int] = {}  # command's first word -> exit code (default 0)
        self.image_users: dict[str, tuple[int | None, str]] = {}  # image ref -> (uid, username)
        self.clock_ns = 1_000 * 10**9
        self._ids = itertools.count(1)

    def _tick(self) -> int:
        self.clock_ns += 10**9
        return self.clock_ns

    async def run_sandbox(self, config: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        if runtime_handler not in ("", "runc"):
            detail = f'failed to get sandbox runtime: no runtime for "{runtime_handler}" is configured'
            raise CRIError("RunPodSandbox", "UNKNOWN", detail)
        self.sandbox_configs.append(config)
        sid = f"sb{next(self._ids)}"
        m = config.metadata
        self.sandboxes[sid] = SandboxInfo(
            sid,
            m.uid,
            m.name,
            m.namespace,
            m.attempt,
            True,
            self._tick(),
            ip=f"10.244.0.{len(self.sandboxes) + 2}",
            labels=dict(config.labels),
            annotations=dict(config.annotations),
        )
        return sid

    async def stop_sandbox(self, sandbox_id: str) -> None:
        self.sandboxes[sandbox_id] = replace(self.sandboxes[sandbox_id], ready=False)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        self.sandboxes.pop(sandbox_id, None)

    async def sandbox_status(self, sandbox_id: str) -> SandboxInfo:
        return self.sandboxes[sandbox_id]

    async def sandbox_netns(self, sandbox_id: str) -> str | None:
        return None

    async def list_sandboxes(self, labels: dict[str, str] | None = None) -> list[SandboxInfo]:
        return [s for s in self.sandboxes.values() if _match(s.labels, labels)]

    async def create_container(
        self, sandbox_id: str, config: pb.ContainerConfig, sandbox_config: pb.PodSandboxConfig
    ) -> str:
        if config.image.image not in self.images and not config.image.image.startswith("sha256:"):
            raise CRIError("CreateContainer", "NOT_FOUND", "image not found")
        cid = f"c{next(self._ids)}"
        self.containers[cid] = ContainerInfo(
            cid,
            sandbox_id,
            config.metadata.name,
            config.metadata.attempt,
            CONTAINER_CREATED,
            self._tick(),
            image=config.image.image,
            image_ref=config.image.image,
            log_path=f"/logs/{cid}",
            labels=dict(config.labels),
            annotations={
                "env": repr([(e.key, e.value) for e in config.envs]),
                "mounts": repr([(m.container_path, m.host_path) for m in config.mounts]),
                "pid": _pid_mode(config),
            },
        )
        return cid

    async def start_container(self, container_id: str) -> None:
        self.containers[container_id] = replace(
            self.containers[container_id], state=CONTAINER_RUNNING, started_at_ns=self._tick()
        )

    def exit(self, container_id: str, code: int) -> None:
        self.containers[container_id] = replace(
            self.containers[container_id], state=CONTAINER_EXITED, exit_code=code, finished_at_ns=self._tick()
        )

    async def stop_container(self, container_id: str, timeout_s: int) -> None:
        self.stopped_with[container_id] = timeout_s
        self.calls.append(f"stop {container_id}")
        if self.containers[container_id].state == CONTAINER_RUNNING:
            self.exit(container_id, 137)

    async def remove_container(self, container_id: str) -> None:
        self.containers.pop(container_id, None)

    async def list_containers(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
        return [c for c in self.containers.values() if _match(c.labels, labels)]

    async def container_status(self, container_id: str) -> ContainerInfo:
        if container_id not in self.containers:
            raise CRIError("ContainerStatus", "NOT_FOUND", container_id)
        return replace(self.containers[container_id], sandbox_id="")

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult:
        self.calls.append(f"exec {container_id} {' '.join(cmd)}")
        return ExecResult(b"", b"boom" if self.exec_exit.get(cmd[0] if cmd else "") else b"",
                          self.exec_exit.get(cmd[0] if cmd else "", 0))

    async def image_ref(self, image: str) -> str | None:
        return f"sha256:{image}" if image in self.images else None

    async def image_user(self, image: str) -> tuple[int | None, str]:
        return self.image_users.get(image, (None, ""))

    async def pull_image(self, image: str, timeout_s: float = 300.0) -> str:
        self.pulls += 1
        raise CRIError("PullImage", "UNKNOWN", f"failed to resolve {image}: no registry reachable")

    def named(self, name: str) -> list[ContainerInfo]:
        return sorted((c for c in self.containers.values() if c.name == name), key=lambda c: c.attempt)


class FakeApi:
    def __init__(self, objects: dict[str, dict[str, Any]] | None = None) -> None:
        self.objects = objects or {}
        self.statuses: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.token_requests: list[tuple[str, str, dict[str, Any]]] = []

    async def request_token(self, namespace: str, account: str, body: dict[str, Any]) -> dict[str, Any]:
        self.token_requests.append((namespace, account, body))
        return {"status": {"token": f"token-{len(self.token_requests)}", "expirationTimestamp": ""}}

    async def services(self, namespace: str) -> list[dict[str, Any]]:
        return [o for k, o in self.objects.items() if k.startswith("svc/")]

    async def master_service(self) -> dict[str, Any] | None:
        return self.objects.get("master/kubernetes")

    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(f"cm/{name}")

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(f"secret/{name}")

    async def get_runtime_class(self, name: str) -> dict[str, Any] | None:
        return self.objects.get(f"runtimeclass/{name}")

    async def write_pod_status(self, pod: Any, status: dict[str, Any]) -> None:
        self.statuses.append(status)

    async def delete_pod(self, pod: Any) -> None:
        self.deleted.append(pod["metadata"]["uid"])

    async def record_event(self, pod: Any, event_type: str, reason: str, message: str) -> None:
        self.events.append((reason, message))


TERMINATING_IMAGE = "kprov.local/busybox:1"


def terminating_pod(**spec: Any) -> dict[str, Any]:
    """A one-container pod with a 3 s grace period: what the termination tests delete."""
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": {
            "terminationGracePeriodSeconds": 3,
            "containers": [{"name": "app", "image": TERMINATING_IMAGE}],
            **spec,
        },
    }


def kubelet_world(tmp_path: Path) -> tuple[KubeletContext, FakeRuntime, FakeApi]:
    """A kubelet context on node n1 over a fake runtime and API, with both fakes."""
    runtime, api = FakeRuntime(), FakeApi()
    return KubeletContext(runtime, api, NodeSettings("n1"), tmp_path, "10.77.0.11"), runtime, api
