"""Namespace deletion: empty a Terminating namespace, then finalize it.

When a namespace has a deletionTimestamp, every namespaced resource kind the server
offers (found by discovery) is listed in it and each object deleted. While anything is
left the key is re-checked; once the namespace is empty the ``kubernetes`` finalizer is
removed through PUT /api/v1/namespaces/<name>/finalize and the API server deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kprov.cluster.client.errors import ApiError, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import EVENTS, NAMESPACES, Resource
from kprov.cluster.controllers.base import Controller

__all__ = ["NamespaceController"]

log = logging.getLogger(__name__)


class NamespaceController(Controller):
    name = "namespace"
    identity = "namespace-controller"

    def setup(self) -> None:
        self.namespaces = self.ctx.informers.get(NAMESPACES)
        self.namespaces.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))
        self._kinds: list[Resource] | None = None

    async def _namespaced_kinds(self) -> list[Resource]:
        if self._kinds is None:
            found = await self.client.discover()
            self._kinds = [r for r in found if r.namespaced and {"list", "delete"} <= set(r.verbs)]
            # events last: deleting other objects can still record events
            self._kinds.sort(key=lambda r: r == EVENTS)
        return self._kinds

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.store.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        remaining = 0
        for kind in await self._namespaced_kinds():
            try:
                items, _ = await self.client.list_all(kind, key)
            except ApiError as exc:
                log.debug("namespace %s: listing %s: %s", key, kind.plural, exc)
                continue
            pending = [o for o in items if not o["metadata"].get("deletionTimestamp")]
            remaining += len(items)
            await asyncio.gather(*(self._delete(kind, key, o["metadata"]["name"]) for o in pending))
        if remaining:
            return 1.0
        finalizers = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
        body = {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": finalizers}}
        try:
            await self.client.update(NAMESPACES, body, subresource="finalize")
        except NotFound:
            return None
        except Conflict:
            return 0.5
        return None

    async def _delete(self, kind: Resource, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            await self.client.delete(kind, name, namespace, propagation_policy="Background")
