"""The API server's shared state, passed to every handler as an argument.

One object (no module-level state): configuration, the resource registry, the object store,
the watch cache, and the allocators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kprov.cluster.api.resources import Registry, ResourceInfo, storage_of
from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.storage import Store, WatchCache, object_key, scope_prefix

if TYPE_CHECKING:
    from kprov.cluster.apiserver.admission.chain import AdmissionChain

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    config: ServerConfig
    registry: Registry
    store: Store
    cache: WatchCache
    extras: dict[str, Any] = field(default_factory=dict)
    admission: AdmissionChain | None = None  # the server's; every write passes it

    @property
    def chain(self) -> AdmissionChain:
        """The admission chain (a context without one admits nothing: a server bug)."""
        if self.admission is None:
            raise RuntimeError("this API server context has no admission chain")
        return self.admission

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
