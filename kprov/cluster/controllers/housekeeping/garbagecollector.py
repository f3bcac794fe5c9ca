"""Garbage collector: delete objects whose owners are gone, and carry out the foreground
and orphan deletion policies.

Every kind the server can list, watch and delete (found by discovery, read again every 30 s
so custom resources defined later are watched too; Events excepted) is watched, and an owner
graph is kept: object uid -> its ownerReferences, owner uid ->
dependents. Keys on the queue are uids.

- A dependent's owners are solid (there, not being deleted in the foreground), waiting
  (being deleted in the foreground: waiting for their dependents) or gone (absent from the
  graph *and* confirmed absent by a GET, or present with another uid), as upstream
  classifies them. With a solid owner, the dependent stays and only its references to
  waiting and gone owners are removed; with none but waiting ones, it is deleted in the
  foreground; with all gone, in the background.
- An owner marked for deletion with the ``foregroundDeletion`` finalizer first has those of
  its dependents deleted that have no solid owner (foreground too); the finalizer is removed
  once no dependent with blockOwnerDeletion=true is left, and the API server then deletes
  the owner.
- An owner with the ``orphan`` finalizer has itself removed from its dependents'
  ownerReferences, then the finalizer is removed.
- Circles of owners (a owns b owns c owns a) do not block a foreground deletion: as
  upstream does, a dependent about to be deleted in the foreground whose own dependents
  already wait for theirs first has its ownerReferences made non-blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from kprov.cluster.client.errors import ApiError, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler, Informer
from kprov.cluster.client.resources import EVENTS, Resource
from kprov.cluster.client.store import object_key
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["GarbageCollector"]

log = logging.getLogger(__name__)

REDISCOVERY_S = 30.0
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass
class _Node:
    resource: Resource
    namespace: str
    name: str
    owners: tuple[Obj, ...]


def _waits_for_dependents(owner: Obj) -> bool:
    meta = owner.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and FOREGROUND in (meta.get("finalizers") or [])


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class GarbageCollector(Controller):
    name = "garbagecollector"
    identity = "generic-garbage-collector"

    def setup(self) -> None:
        self.graph: dict[str, _Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.kinds: dict[tuple[str, str], Resource] = {}
        self.informers: dict[Resource, Informer] = {}

    async def run(self) -> None:
        self._watch(await self.client.discover())
        rediscovery = asyncio.create_task(self._rediscover())
        try:
            await super().run()
        finally:
            rediscovery.cancel()

    def _watch(self, resources: list[Resource]) -> None:
        """Watch every kind of ``resources`` not watched yet that can be listed, watched and deleted."""
        for res in resources:
            if res in self.informers or res == EVENTS or res.plural == "events":
                continue
            if not {"list", "watch", "delete"} <= set(res.verbs):
                continue
            self.kinds.setdefault((res.group, res.kind), res)
            informer = self.ctx.informers.get(res)
            self.informers[res] = informer
            informer.add_handler(self._handler(res))

    async def _rediscover(self) -> None:
        """Kinds served later (a CRD created, an APIService registered) are watched too, as
        upstream's collector re-reads discovery every 30 s."""
        while True:
            await asyncio.sleep(REDISCOVERY_S)
            try:
                self._watch(await self.client.discover())
            except (ApiError, OSError) as err:
                log.warning("garbage collector: discovery failed: %s", err)

    # ---- graph -------------------------------------------------------------------------

    def _handler(self, res: Resource) -> EventHandler:
        return EventHandler(
            lambda obj: self._observe(res, obj), lambda _old, new: self._observe(res, new), self._forget
        )

    def _observe(self, res: Resource, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        owners = tuple(meta.get("ownerReferences") or ())
        previous = self.graph.get(uid)
        if previous is not None:
            for ref in previous.owners:
                self.dependents.get(ref.get("uid", ""), set()).discard(uid)
        self.graph[uid] = _Node(res, meta.get("namespace") or "", meta.get("name", ""), owners)
        for ref in owners:
            self.dependents.setdefault(ref.get("uid", ""), set()).add(uid)
        finalizers = meta.get("finalizers") or []
        if owners or (meta.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers)):
            self.queue.add(uid)

    def _forget(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid", "")
        node = self.graph.pop(uid, None)
        if node is not None:
            for ref in node.owners:
                self.dependents.get(ref.get("uid", ""), set()).discard(uid)
                self.queue.add(ref.get("uid", ""))  # a foreground owner may be waiting for us
        for dependent in self.dependents.get(uid, set()):
            self.queue.add(dependent)

    def _live(self, uid: str) -> Obj | None:
        node = self.graph.get(uid)
        if node is None:
            return None
        key = f"{node.namespace}/{node.name}" if node.namespace else node.name
        return self.informers[node.resource].store.get(key)

    async def _owner_state(self, ref: Obj, namespace: str) -> Obj | None:
        """The owner object if it exists (with the referenced uid), else None."""
        uid = ref.get("uid", "")
        cached = self._live(uid)
        if cached is not None:
            return cached
        res = self.kinds.get((_group(ref.get("apiVersion", "")), ref.get("kind", "")))
        if res is None:
            return {"metadata": {"uid": uid}}  # unknown kind: never collect on a guess
        try:
            found = await self.client.get(res, ref.get("name", ""), namespace if res.namespaced else None)
        except NotFound:
            return None
        return found if found["metadata"].get("uid") == uid else None

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        obj = self._live(key)
        if obj is None:
            return None
        meta = obj["metadata"]
        node = self.graph[key]
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                await self._orphan_dependents(key)
                await self._remove_finalizer(node, obj, ORPHAN)
                return None
            if FOREGROUND in finalizers:
                return await self._foreground(key, node, obj)
        if node.owners:
            await self._check_owners(node, obj)
        return None

    async def _check_owners(self, node: _Node, obj: Obj) -> bool:
        """Act on a dependent's owners; True if it stays (it has a solid owner)."""
        states = [(ref, await self._owner_state(ref, node.namespace)) for ref in node.owners]
        gone = [ref for ref, state in states if state is None]
        waiting = [ref for ref, state in states if state is not None and _waits_for_dependents(state)]
        solid = [ref for ref, state in states if state is not None and not _waits_for_dependents(state)]
        if solid:
            drop = {r.get("uid") for r in gone + waiting}
            if drop:
                await self._set_owner_refs(node, obj, [r for r in node.owners if r.get("uid") not in drop])
            return True
        if obj["metadata"].get("deletionTimestamp"):
            return False
        if waiting:
            policy = "Foreground"
        else:
            log.info("garbage collecting %s %s/%s: its owners are gone",
                     node.resource.kind, node.namespace, node.name)
            policy = "Background"
        with contextlib.suppress(NotFound):
            await self.client.delete(node.resource, node.name, node.namespace or None,
                                     propagation_policy=policy, uid=obj["metadata"].get("uid"))
        return False

    async def _set_owner_refs(self, node: _Node, obj: Obj, refs: list[Obj]) -> None:
        body = {**obj, "metadata": {**obj["metadata"], "ownerReferences": refs}}
        with contextlib.suppress(NotFound):
            await self.client.update(node.resource, body)

    async def _foreground(self, uid: str, node: _Node, obj: Obj) -> float | None:
        blocking = 0
        for dep_uid in list(self.dependents.get(uid, ())):
            dep = self._live(dep_uid)
            if dep is None:
                continue
            dep_node = self.graph[dep_uid]
            ref = next((r for r in dep_node.owners if r.get("uid") == uid), {})
            if not dep["metadata"].get("deletionTimestamp") and self._closes_circle(dep_uid):
                await self._unblock(dep_node, dep)
                with contextlib.suppress(NotFound):
                    await self.client.delete(dep_node.resource, dep_node.name, dep_node.namespace or None,
                                             propagation_policy="Foreground")
                continue
            if await self._check_owners(dep_node, dep):
                continue  # another owner keeps it; our reference is gone from it
            if ref.get("blockOwnerDeletion"):
                blocking += 1
        if blocking:
            return 1.0  # dependents' deletions requeue us too
        await self._remove_finalizer(node, obj, FOREGROUND)
        return None

    def _closes_circle(self, uid: str) -> bool:
        """Whether a dependent of ``uid`` is already deleting its own dependents (deleting
        ``uid`` in the foreground too could then wait on itself)."""
        for dep_uid in self.dependents.get(uid, ()):
            dep = self._live(dep_uid)
            meta = (dep or {}).get("metadata") or {}
            if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
                return True
        return False

    async def _unblock(self, node: _Node, obj: Obj) -> None:
        refs = [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in node.owners]
        log.info("%s %s/%s closes an ownership circle: its owner references no longer block",
                 node.resource.kind, node.namespace, node.name)
        await self._set_owner_refs(node, obj, refs)

    async def _orphan_dependents(self, uid: str) -> None:
        for dep_uid in list(self.dependents.get(uid, ())):
            dep = self._live(dep_uid)
            if dep is None:
                continue
            node = self.graph[dep_uid]
            await self._set_owner_refs(node, dep, [r for r in node.owners if r.get("uid") != uid])

    async def _remove_finalizer(self, node: _Node, obj: Obj, finalizer: str) -> None:
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        body = {**obj, "metadata": {**obj["metadata"], "finalizers": finalizers}}
        try:
            await self.client.update(node.resource, body)
        except NotFound:
            return
        except Conflict:
            fresh = await self.client.get(node.resource, node.name, node.namespace or None)
            finalizers = [f for f in fresh["metadata"].get("finalizers") or [] if f != finalizer]
            await self.client.update(
                node.resource, {**fresh, "metadata": {**fresh["metadata"], "finalizers": finalizers}}
            )
        except ApiError as exc:
            log.warning("removing %s from %s: %s", finalizer, object_key(obj), exc)
            raise
