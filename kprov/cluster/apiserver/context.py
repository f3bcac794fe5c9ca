"""The API server's shared state, passed to every handler as an argument.

One object (no module-level state): configuration, the resource registry, the object store,
the watch cache, and every service the server installs, each a typed field. A service
defined above this module (the admission chain, the custom-resource and APIService
reconcilers) is named by the :class:`typing.Protocol` of what its users call, so this module
imports nothing above it and every module may import it; the server assigns the real
objects (:mod:`.server`).

What one module makes for itself at first use (the authorizer, the aggregation registry,
compiled policies, the OpenAPI document) is kept by :meth:`ApiContext.shared`, keyed by its
class: typed for mypy (it returns an instance of the class asked for), and only its owner
asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kprov.cluster.api.resources import Registry, ResourceInfo, storage_of
from kprov.cluster.apiserver.allocators import Allocators
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.satoken import ServiceAccountTokens
from kprov.cluster.storage import Store, WatchCache, object_key, scope_prefix

__all__ = ["Admission", "ApiContext", "ApiServices", "CustomResourceServing", "WatchMetrics"]

T = TypeVar("T")


class Admission(Protocol):
    """The admission chain (:class:`.admission.chain.AdmissionChain`)."""

    async def run(self, ctx: ApiContext, stage: Stage, attrs: AdmissionAttributes) -> AdmissionAttributes: ...


class CustomResourceServing(Protocol):
    """The custom resources this server serves (:class:`.reconcilers.crds.CustomResources`)."""

    def observe(self, name: str, crd: dict[str, Any] | None) -> None: ...


class ApiServices(Protocol):
    """The APIService availability controller (:mod:`.reconcilers.apiservice_controller`)."""

    @property
    def registered(self) -> bool: ...

    async def fill_discovery(self) -> None: ...


class WatchMetrics(Protocol):
    """``apiserver_watch_events_total`` (:class:`.front.metrics.ApiMetrics`)."""

    def watch_sent(self, group: str, version: str, resource: str, events: int) -> None: ...


@dataclass
class ApiContext:
    config: ServerConfig
    registry: Registry
    store: Store
    cache: WatchCache
    admission: Admission | None = None  # the server's; every write passes it
    allocators: Allocators | None = None  # Services' ClusterIPs and NodePorts
    sa_tokens: ServiceAccountTokens | None = None  # issue and verify ServiceAccount tokens
    custom_resources: CustomResourceServing | None = None
    apiservices: ApiServices | None = None
    watch_metrics: WatchMetrics | None = None
    shutting_down: bool = False  # /readyz fails from this moment (server.shut_down)
    _shared: dict[type, Any] = field(default_factory=dict, repr=False)

    @property
    def chain(self) -> Admission:
        """The admission chain (a context without one admits nothing: a server bug)."""
        if self.admission is None:
            raise RuntimeError("this API server context has no admission chain")
        return self.admission

    def shared(self, kind: type[T], make: Callable[[], T]) -> T:
        """The one ``kind`` of this server, made by ``make`` at the first ask."""
        found = self._shared.get(kind)
        if found is None:
            found = self._shared[kind] = make()
        return found  # type: ignore[no-any-return]

    def key(self, info: ResourceInfo, namespace: str, name: str) -> str:
        return object_key(*storage_of(info), namespace if info.namespaced else "", name)

    async def read_through(self, key: str) -> dict[str, Any] | None:
        """The object at ``key`` from the watch cache (current up to milliseconds), or from
        etcd when the cache has none: a miss is decided by storage, as upstream's admission
        plugins fall back to a live lookup."""
        found = self.cache.get(key)
        if found is None:
            stored = await self.store.get(key)
            found = stored.obj if stored is not None else None
        return found

    def prefix(self, info: ResourceInfo, namespace: str) -> str:
        return scope_prefix(*storage_of(info), namespace if info.namespaced else "")
