"""An in-memory stand-in for ApiClient (unit tests only): objects by (plural, key), a global
resourceVersion counter, CAS updates, and a watch fed from a per-test event queue."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, Conflict, Gone, NotFound
from kprov.cluster.client.resources import Resource
from kprov.cluster.client.rest import WatchEvent
from kprov.cluster.client.store import object_key


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.rv = 0
        self.events: asyncio.Queue[WatchEvent | Exception | None] = asyncio.Queue()
        self.lists = 0

    def _bump(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return obj

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        key = f"{namespace}/{name}" if namespace else name
        try:
            return copy.deepcopy(self.objects[res.plural][key])
        except KeyError:
            raise NotFound(404, "NotFound", key) from None

    async def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None) -> dict:
        bucket = self.objects.setdefault(res.plural, {})
        key = object_key(obj)
        if key in bucket:
            raise AlreadyExists(409, "AlreadyExists", key)
        bucket[key] = self._bump(copy.deepcopy(obj))
        return copy.deepcopy(bucket[key])

    async def update(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        bucket = self.objects.setdefault(res.plural, {})
        key = object_key(obj)
        if key not in bucket:
            raise NotFound(404, "NotFound", key)
        if bucket[key]["metadata"]["resourceVersion"] != obj["metadata"].get("resourceVersion"):
            raise Conflict(409, "Conflict", key)
        bucket[key] = self._bump(copy.deepcopy(obj))
        return copy.deepcopy(bucket[key])

    async def list_all(self, res: Resource, namespace: str | None = None, **_: Any) -> tuple[list, str]:
        self.lists += 1
        return [copy.deepcopy(o) for o in self.objects.get(res.plural, {}).values()], str(self.rv)

    async def watch(self, res: Resource, namespace: str | None = None, **_: Any) -> AsyncIterator[WatchEvent]:
        while True:
            item = await self.events.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item


def gone() -> Gone:
    return Gone(410, "Expired", "too old resource version")
