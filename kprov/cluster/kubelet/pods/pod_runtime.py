"""One pod as the container runtime holds it: its sandbox and its containers, read through CRI.

Everything here is read again from the runtime on every sync (found by the
``io.kubernetes.pod.uid`` label), so a restarted kubelet adopts what runs. Containers come
back grouped by name, latest attempt first (the CRI attempt number is the restart count),
each exited one with its termination message (:mod:`.lifecycle`). A pod's sandbox is the
newest ready one; without one, the dead sandboxes' containers are stopped and a new sandbox
is made with the handler of the pod's RuntimeClass. The only thing remembered is each
sandbox's IPs, read once per sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo, SandboxInfo
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.lifecycle import termination_file, termination_message
from kprov.cluster.kubelet.pods.podconfig import sandbox_config
from kprov.cluster.kubelet.volumes.pod_volumes import pod_dir

__all__ = ["PodRuntime", "RuntimeClassMissing", "by_name"]

Obj = Mapping[str, Any]


class RuntimeClassMissing(Exception):
    """The pod's RuntimeClass is gone: its sandbox cannot be made (retried every resync)."""


def by_name(containers: list[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    out: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        out.setdefault(c.name, []).append(c)
    for items in out.values():
        items.sort(key=lambda c: (c.attempt, c.created_at_ns), reverse=True)
    return out


class PodRuntime:
    def __init__(self, ctx: KubeletContext, uid: str) -> None:
        self.ctx = ctx
        self.uid = uid
        self.sandbox_ips: dict[str, list[str]] = {}  # sandbox id -> the pod's IPs in it

    def any_ips(self) -> list[str]:
        """The IPs of some sandbox of the pod (a hook's target while it stops)."""
        return next(iter(self.sandbox_ips.values()), [])

    async def listed(self) -> list[ContainerInfo]:
        return await self.ctx.runtime.list_containers({L.POD_UID: self.uid})

    async def sandboxes(self) -> list[SandboxInfo]:
        return await self.ctx.runtime.list_sandboxes({L.POD_UID: self.uid})

    async def containers(self, pod: Obj) -> dict[str, list[ContainerInfo]]:
        """The pod's containers by name, latest first, with their full status."""
        listed = await self.listed()
        detailed = []
        for c in listed:
            try:
                detailed.append(await self.ctx.runtime.container_status(c.id))
            except CRIError as err:
                if not err.not_found:
                    raise
        sandbox_of = {c.id: c.sandbox_id for c in listed}
        fixed = [
            self._with_message(pod, replace(d, sandbox_id=sandbox_of.get(d.id, d.sandbox_id)))
            for d in detailed
        ]
        return by_name(fixed)

    def _with_message(self, pod: Obj, info: ContainerInfo) -> ContainerInfo:
        """An exited container's termination message, as its status shows it."""
        if info.state != CONTAINER_EXITED or info.message:
            return info
        spec = pod.get("spec") or {}
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

    async def ensure_sandbox(self, pod: Obj) -> tuple[SandboxInfo, Any]:
        """The pod's ready sandbox and its config, made when there is none."""
        sandboxes = await self.sandboxes()
        sandboxes.sort(key=lambda s: (s.attempt, s.created_at_ns), reverse=True)
        ready = [s for s in sandboxes if s.ready]
        if ready:
            sandbox = ready[0]
            config = sandbox_config(self.ctx.settings, pod, sandbox.attempt)
        else:
            attempt = sandboxes[0].attempt + 1 if sandboxes else 0
            for old in sandboxes:  # a dead sandbox: its containers go with it
                for c in await self.listed():
                    if c.sandbox_id == old.id and c.state == CONTAINER_RUNNING:
                        await self.ctx.runtime.stop_container(c.id, 0)
            config = sandbox_config(self.ctx.settings, pod, attempt)
            sandbox_id = await self.ctx.runtime.run_sandbox(config, await self._runtime_handler(pod))
            sandbox = await self.ctx.runtime.sandbox_status(sandbox_id)
            self.sandbox_ips[sandbox.id] = self._ips_of(pod, sandbox)
        if sandbox.id not in self.sandbox_ips:
            status = await self.ctx.runtime.sandbox_status(sandbox.id)
            self.sandbox_ips[sandbox.id] = self._ips_of(pod, status)
        return sandbox, config

    def _ips_of(self, pod: Obj, sandbox: SandboxInfo) -> list[str]:
        """The pod's IPs: its sandbox's, or the node's for a hostNetwork pod (as upstream)."""
        ips = [ip for ip in (sandbox.ip, *sandbox.additional_ips) if ip]
        if not ips and (pod.get("spec") or {}).get("hostNetwork"):
            return list(self.ctx.host_ips)
        return ips

    async def _runtime_handler(self, pod: Obj) -> str:
        """The CRI handler of the pod's RuntimeClass ("" for the runtime's default)."""
        name = (pod.get("spec") or {}).get("runtimeClassName")
        if not name:
            return ""
        found = await self.ctx.api.get_runtime_class(str(name))
        if found is None:
            raise RuntimeClassMissing(f'runtimeclass.node.k8s.io "{name}" not found')
        return str(found.get("handler") or "")
