"""One informer per kind for the whole controller manager.

Controllers ask :meth:`SharedInformers.get` for a kind (optionally adding indexers); the
first request creates the informer, later ones share it. :meth:`start` runs them all and
:meth:`wait_synced` waits until each has delivered its first list.
"""

from __future__ import annotations

import asyncio

from kprov.cluster.client.informer import Informer, strip_managed_fields
from kprov.cluster.client.resources import Resource
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.store import Indexer

__all__ = ["SharedInformers", "index_by_controller_uid", "index_by_owner_uid", "index_orphans_by_namespace"]


def index_by_controller_uid(obj: dict) -> list[str]:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return [ref.get("uid", "")]
    return []


def index_orphans_by_namespace(obj: dict) -> list[str]:
    """The namespace of an object no controller owns (what a ReplicaSet or Job may adopt):
    a sync looks at those rather than at every pod of its namespace (60,000 in the density
    bench, read through on every ReplicaSet sync, stalled new ReplicaSets for minutes)."""
    if index_by_controller_uid(obj):
        return []
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def index_by_owner_uid(obj: dict) -> list[str]:
    return [ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]


class SharedInformers:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[Resource, Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def get(self, resource: Resource, indexers: dict[str, Indexer] | None = None) -> Informer:
        informer = self._informers.get(resource)
        if informer is None:
            informer = Informer(self.client, resource, page_size=500, transform=strip_managed_fields)
            self._informers[resource] = informer
            if self._tasks:  # asked for after start(): run it too
                self._tasks.append(asyncio.create_task(informer.run()))
        for name, indexer in (indexers or {}).items():
            if not informer.store.has_indexer(name):
                informer.store.add_indexer(name, indexer)
        return informer

    def all(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._tasks = [asyncio.create_task(i.run()) for i in self._informers.values()]

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
