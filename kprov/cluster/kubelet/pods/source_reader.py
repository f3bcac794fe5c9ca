"""What one pod's containers are made from, read from the API before each sync.

The ConfigMaps and Secrets its volumes and environment name, the projected ServiceAccount
tokens (kept and refreshed by :class:`~..volumes.satokens.PodTokens`), the service
variables (read at most every 30 s per pod; upstream reads an informer) and the volume
source of each bound PersistentVolumeClaim. What cannot be read yet (a token request that
failed, an unbound claim) is left out and the pod worker is asked to sync again soon; the
volume setup reports the gap meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kprov.cluster.client import ApiError
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.pods.env import PodSources
from kprov.cluster.kubelet.pods.servicelinks import service_env
from kprov.cluster.kubelet.volumes.pod_volumes import (
    claim_names,
    referenced_sources,
    token_sources,
    volume_source,
)
from kprov.cluster.kubelet.volumes.satokens import PodTokens

__all__ = ["SourceReader"]

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
SERVICE_ENV_TTL_S = 30.0


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


class SourceReader:
    def __init__(self, ctx: KubeletContext, wake_in: Callable[[float], None]) -> None:
        self.ctx = ctx
        self._wake_in = wake_in
        self._tokens = PodTokens(ctx.api.request_token)
        self._service_vars: tuple[float, dict[str, str]] | None = None

    async def read(self, pod: Obj) -> PodSources:
        ns = pod["metadata"].get("namespace", "default")
        cms, secrets = referenced_sources(pod)
        sources = PodSources(host_ip=self.ctx.node_ip, host_ips=self.ctx.host_ips,
                             allocatable=self.ctx.allocatable, namespace=ns)
        for name in cms:
            obj = await self.ctx.api.get_config_map(ns, name)
            if obj is not None:
                sources.config_maps[name] = obj
        for name in secrets:
            obj = await self.ctx.api.get_secret(ns, name)
            if obj is not None:
                sources.secrets[name] = obj
        projections = token_sources(pod)
        if projections:
            try:
                sources.tokens = await self._tokens.fetch(pod, projections)
            except ApiError as err:  # the volume setup reports it; retried soon
                log.warning("pod %s: ServiceAccount token request failed: %s", _key(pod), err)
                self._wake_in(2.0)
            delay = self._tokens.next_refresh_in()
            if delay is not None:
                self._wake_in(max(1.0, delay))
        sources.service_env = await self._service_env(pod, ns)
        await self._claims(pod, ns, sources)
        return sources

    async def _claims(self, pod: Obj, namespace: str, sources: PodSources) -> None:
        """Each bound claim's volume source; an unbound claim is retried soon."""
        for name in claim_names(pod):
            try:
                claim = await self.ctx.api.get_claim(namespace, name)
                bound = (claim or {}).get("spec", {}).get("volumeName")
                volume = await self.ctx.api.get_volume(bound) if bound else None
            except ApiError as err:
                log.warning("pod %s: claim %s not read: %s", _key(pod), name, err)
                volume = None
            source = volume_source(volume) if volume is not None else None
            if source is None:
                self._wake_in(2.0)
                continue
            sources.claims[name] = source

    async def _service_env(self, pod: Obj, namespace: str) -> dict[str, str]:
        now = time.monotonic()
        if self._service_vars is not None and now - self._service_vars[0] < SERVICE_ENV_TTL_S:
            return self._service_vars[1]
        links = (pod.get("spec") or {}).get("enableServiceLinks") is not False
        try:
            master = await self.ctx.api.master_service()
            services = await self.ctx.api.services(namespace) if links else []
        except ApiError as err:
            log.warning("pod %s: services not listed: %s", _key(pod), err)
            return self._service_vars[1] if self._service_vars is not None else {}
        env = service_env(namespace, links, master, services)
        self._service_vars = (now, env)
        return env
