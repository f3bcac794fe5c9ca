"""The API server's shared state, passed to every handler as an argument.

One object (no module-level state): configuration, the resource registry, the object store,
the watch cache, and the allocators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.resources import Registry, ResourceInfo, storage_of
from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.storage import Store, WatchCache, object_key, scope_prefix

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    config: ServerConfig
    registry: Registry
    store: Store
    cache: WatchCache
    extras: dict[str, Any] = field(default_factory=dict)

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
