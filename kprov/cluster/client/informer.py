"""Informers: list, then watch from the list's resourceVersion, into an indexed cache.

:class:`Informer.run` lists the kind, reconciles its :class:`~.store.Store` with the list
(emitting add / update / delete to the handlers for what changed), then watches from the
list's resourceVersion with bookmarks. A watch that ends is resumed from the last seen
resourceVersion; a 410 Gone (too old) or any error leads to a fresh list after a short
backoff. Handlers are plain synchronous callables that must be quick (typically they put a
key on a work queue); they get the new object, and for updates the old one too.

``has_synced`` is set after the first list has been delivered, so controllers can wait for
a complete cache before acting (``await informer.wait_synced()``).

``transform`` (client-go's SetTransform) changes each object before it is cached and
handed to handlers; :func:`strip_managed_fields` is the one the controller manager, the
scheduler and hollow nodes use. managedFields are bookkeeping for server-side apply that
none of them reads; a pod written by clients that name a field manager (kubectl, then a
kubelet's status) cached at 17.0 KiB with them and 8.5 KiB without. An update written
from such a copy leaves the server's managedFields as they were (omitted means
unchanged, as on kube-apiserver).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.errors import Gone
from kprov.cluster.client.resources import Resource
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.store import Indexer, Store, object_key

__all__ = ["EventHandler", "Informer", "strip_managed_fields"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def strip_managed_fields(obj: Obj) -> Obj:
    """Drop ``metadata.managedFields`` (in place: informers own the objects they decoded)."""
    meta = obj.get("metadata")
    if meta and "managedFields" in meta:
        del meta["managedFields"]
    return obj


@dataclass
class EventHandler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Informer:
    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: dict[str, Indexer] | None = None,
        watch_timeout: int = 300,
        page_size: int = 0,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(indexers)
        self.has_synced = asyncio.Event()
        self.resource_version = ""
        self._handlers: list[EventHandler] = []
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self._transform = transform

    def add_handler(self, handler: EventHandler) -> None:
        """Register handlers; objects already cached are replayed as adds."""
        self._handlers.append(handler)
        if handler.on_add:
            for obj in self.store.items():
                handler.on_add(obj)

    async def wait_synced(self) -> None:
        await self.has_synced.wait()

    # ---- delivery ----------------------------------------------------------------------

    def _deliver_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add:
                self._safe(h.on_add, obj)

    def _deliver_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update:
                self._safe(h.on_update, old, new)

    def _deliver_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete:
                self._safe(h.on_delete, obj)

    @staticmethod
    def _safe(fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:  # a broken handler must not stop the informer
            log.exception("informer handler %s failed", getattr(fn, "__qualname__", fn))

    def _apply(self, event_type: str, obj: Obj) -> None:
        if self._transform is not None:
            obj = self._transform(obj)
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        if event_type == "DELETED":
            self.store.remove(object_key(obj))
            self._deliver_delete(obj)
            return
        old = self.store.put(obj)
        if old is None:
            self._deliver_add(obj)
        else:
            self._deliver_update(old, obj)

    def replace(self, items: list[Obj], resource_version: str) -> None:
        """Make the cache equal to a fresh list, telling handlers what changed."""
        if self._transform is not None:
            items = [self._transform(o) for o in items]
        fresh = {object_key(o): o for o in items}
        for key in self.store.all_keys():
            if key not in fresh:
                gone = self.store.remove(key)
                if gone is not None:
                    self._deliver_delete(gone)
        for obj in items:
            old = self.store.put(obj)
            if old is None:
                self._deliver_add(obj)
            elif (old.get("metadata") or {}).get("resourceVersion") != (obj.get("metadata") or {}).get(
                "resourceVersion"
            ):
                self._deliver_update(old, obj)
        self.resource_version = resource_version
        self.has_synced.set()

    # ---- loop --------------------------------------------------------------------------

    async def _list(self) -> None:
        items, rv = await self.client.list_all(
            self.resource, self.namespace, label_selector=self.label_selector,
            field_selector=self.field_selector, page_size=self._page_size,
        )
        self.replace(items, rv)

    async def _watch(self) -> None:
        stream = self.client.watch(
            self.resource, self.namespace, resource_version=self.resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector,
            timeout_seconds=self._watch_timeout,
        )
        async for event in stream:
            rv = (event.object.get("metadata") or {}).get("resourceVersion")
            if event.type != "BOOKMARK":
                self._apply(event.type, event.object)
            if rv:
                self.resource_version = str(rv)

    async def run(self) -> None:
        """List and watch until cancelled."""
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Gone:
                need_list = True
            except Exception as exc:  # network, server or decode errors: start over from a list
                log.warning("%s informer: %s; relisting in %.1fs", self.resource.plural, exc, backoff)
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
