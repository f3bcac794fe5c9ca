"""Serving custom resources: the registry follows the CRDs, and deleted CRDs are emptied.

Design: :class:`CustomResources` watches the CRD prefix through the server's own watch cache
(one subscription; no extra etcd watch). Whenever a CRD is added, changed or removed it
rebuilds the registry - the built-in resources plus one ``ResourceInfo`` per served version
of every established CRD (:func:`kprov.cluster.api.crd.definition.infos_from_crd`) - and swaps it into
``ctx.registry``, which routing, discovery, tables and listing read per request. Every API
server does this for itself, so a new CRD is served everywhere as soon as each server's
cache has the event (milliseconds); the server that stored it does it before replying
(:func:`..handlers.storage_hooks.after_write` calls :meth:`observe`).

A CRD marked for deletion (it carries the cleanup finalizer) gets the Terminating condition;
its objects are deleted through the normal delete path (their own finalizers are honoured,
so it waits for them), and then the finalizer is removed, which deletes the CRD. Every
server that sees the deletion does this; they race harmlessly (404s and retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from kprov.cluster.api.crd.definition import CLEANUP_FINALIZER, infos_from_crd, set_condition
from kprov.cluster.api.crd.structural import Node, compile_schema
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.resources import Registry, ResourceInfo
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import deletion, writes
from kprov.cluster.apiserver.request.status import ApiError
from kprov.cluster.background import stop_tasks
from kprov.cluster.storage import RevisionExpiredError

__all__ = ["CustomResources"]

_log = logging.getLogger(__name__)
_CLEANUP_POLL_S = 0.5


class CustomResources:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._base: Registry = ctx.registry
        info = self._base.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert info is not None
        self._crd_info: ResourceInfo = info
        self._crds: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._compiled: dict[bytes, Node] = {}  # schema JSON -> its compiled form

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve the CRDs in the cache now, then follow changes."""
        prefix = self._ctx.prefix(self._crd_info, "")
        objects, revision = self._ctx.cache.snapshot(prefix)
        self._reset(objects)
        self._task = asyncio.create_task(self._follow(revision), name="custom-resources")

    async def stop(self) -> None:
        await stop_tasks(self._task, *self._cleanups.values())

    async def _follow(self, revision: int) -> None:
        cache = self._ctx.cache
        prefix = self._ctx.prefix(self._crd_info, "")
        while True:
            try:
                subscription = cache.subscribe(prefix, revision)
            except RevisionExpiredError:
                subscription = None
            if subscription is not None:
                try:
                    while True:
                        event = await subscription.next(None)
                        if event is None:
                            break
                        name = event.key.rsplit("/", 1)[-1]
                        self.observe(name, None if event.type == "DELETED" else event.obj)
                finally:
                    subscription.close()
            while not cache.ready:  # the cache is reloading: start over from its new state
                await asyncio.sleep(0.1)
            objects, revision = cache.snapshot(prefix)
            self._reset(objects)

    # -- the registry ----------------------------------------------------------------------
    def _reset(self, objects: list[dict[str, Any]]) -> None:
        self._crds = {o["metadata"]["name"]: o for o in objects}
        self._rebuild()

    def observe(self, name: str, crd: dict[str, Any] | None) -> None:
        """``crd`` is the current state of the CRD ``name`` (None: gone)."""
        if crd is None:
            if self._crds.pop(name, None) is None:
                return
        else:
            known = self._crds.get(name)
            if known is not None and int(known["metadata"].get("resourceVersion") or 0) > int(
                crd["metadata"].get("resourceVersion") or 0
            ):
                return  # an older state than the one already served
            self._crds[name] = crd
        self._rebuild()

    def _compile(self, schema: Mapping[str, Any] | None) -> Node:
        """Compile a schema once while it is in use (a rebuild recompiles nothing unchanged)."""
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        node = self._compiled.get(key)
        if node is None:
            node = self._compiled[key] = compile_schema(schema)
        return node

    def _rebuild(self) -> None:
        infos: list[ResourceInfo] = []
        for name in sorted(self._crds):
            crd = self._crds[name]
            infos.extend(infos_from_crd(crd, self._compile))
            meta = crd.get("metadata") or {}
            if meta.get("deletionTimestamp") and CLEANUP_FINALIZER in (meta.get("finalizers") or []):
                self._start_cleanup(name)
        self._ctx.registry = self._base.extended(tuple(infos))
        if len(self._compiled) > 4 * len(infos) + 16:  # forget schemas no longer served
            kept = {id(node) for i in infos if i.custom is not None for node in i.custom.nodes.values()}
            self._compiled = {k: v for k, v in self._compiled.items() if id(v) in kept}

    # -- deletion --------------------------------------------------------------------------
    def _start_cleanup(self, name: str) -> None:
        running = self._cleanups.get(name)
        if running is not None and not running.done():
            return
        self._cleanups[name] = asyncio.create_task(self._cleanup(name), name=f"crd-cleanup-{name}")

    async def _cleanup(self, name: str) -> None:
        try:
            await self._mark_terminating(name)
            while True:
                crd = self._crds.get(name)
                if crd is None:
                    return
                if await self._delete_objects(crd) == 0:
                    break
                await asyncio.sleep(_CLEANUP_POLL_S)
            await writes.guaranteed_update(self._ctx, self._crd_info, "", name, _without_finalizer)
        except ApiError as exc:
            if exc.code != 404:
                _log.warning("cleanup of CRD %s: %s", name, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("cleanup of CRD %s failed", name)
        finally:
            self._cleanups.pop(name, None)

    async def _mark_terminating(self, name: str) -> None:
        def mark(crd: dict[str, Any]) -> dict[str, Any]:
            status = crd.setdefault("status", {})
            set_condition(
                status,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                now_rfc3339(),
            )
            return crd

        await writes.guaranteed_update(self._ctx, self._crd_info, "", name, mark, subresource="status")

    async def _delete_objects(self, crd: dict[str, Any]) -> int:
        """Delete (or mark) every object of ``crd``; how many were still there."""
        infos = infos_from_crd(crd)
        if not infos:
            return 0
        info = next((i for i in infos if i.version == i.custom.storage_version), infos[0])
        page = await self._ctx.store.list(self._ctx.prefix(info, ""))
        for stored in page.items:
            meta = stored.obj.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue  # marked already: waiting for its finalizers
            try:
                await deletion.delete_object(self._ctx, info, meta.get("namespace", ""), meta["name"], {})
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return len(page.items)


def _without_finalizer(crd: dict[str, Any]) -> dict[str, Any]:
    meta = crd["metadata"]
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
    return crd
