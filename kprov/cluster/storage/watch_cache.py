"""The watch cache: one etcd watch on ``/registry/`` feeding every client watch.

At start it reads every object at one revision R (in pages, all at R), then watches etcd from
R+1. It keeps

- the current state per resource prefix (so ``list?resourceVersion=0`` needs no etcd read),
- a ring of recent events (so a watch from resourceVersion N replays what came after N, and
  answers :class:`RevisionExpiredError` -> 410 when N is older than the ring),
- subscribers (:mod:`kprov.cluster.storage.subscription`: a key prefix, a queue, the bookmark
  rule); every event is handed to the matching ones synchronously in etcd order, so a
  subscriber never sees gaps or duplicates.

Objects in the cache are shared by all readers and must never be mutated. An event's JSON
line is encoded once and reused for every subscriber (fan-out to many watchers is cheap).
Values are decoded lazily: an event's value is kept as etcd sent it (bytes, invisible to the
garbage collector) until something reads it - a subscriber of its resource, a get, a list.
On a busy server most versions are never read before they change, so decoding each would
be CPU lost on every pod create (docs/decisions/0011). A write this process made itself is never
decoded: the store hands the object it wrote to :meth:`WatchCache.adopt`, which takes its place
whether the event came
before or after the write's reply. A value that cannot be decoded (a key this server lacks)
is logged and left out, as if the event had not come.
Objects share their managedFields' tries (:mod:`.shared_tries`: equal values, one copy).
Old events are kept small: once ``hot_events`` newer events have come (live watchers have long
had it), an event's objects that are no longer the current state are kept as JSON only
(:class:`Packed`, decoded again if a watch from an old resourceVersion replays them): a
decoded pod takes several times the memory of its JSON, and a full ring of decoded
superseded pod versions weighed on every API server of a large cluster. An old event whose
object was current then is packed when the key's next event comes (the cache keeps each
key's newest event for that), and an event's previous object shares the form of the event
before it (:mod:`.cache_events`).
If the etcd watch breaks, every subscriber is ended (clients re-watch, possibly get 410 and
relist) and the cache reloads; a watch that subscribes during the reload is ended again when
the load completes (it followed history the load replaces, so it would miss the events
in between).

A consistent read waits until the cache has reached etcd's current revision
(:meth:`WatchCache.wait_for`). Events bring it there, except for revisions written outside
``/registry/`` (no event ever carries those). For them the cache asks etcd to count, at that
revision, the ``/registry/`` keys changed since its own revision and all ``/registry/`` keys:
none changed and as many as it holds means nothing was created, changed or deleted in
between, so the cache is current there. It does not use etcd's progress notifications for
this: etcd before 3.4.31 / 3.5.13 (Debian 12 ships 3.4.23) may report progress ahead of
events still queued on the stream (etcd issue 15220), so a list could miss a write just made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kprov.cluster.background import stop_requested, stop_tasks
from kprov.cluster.storage.cache_events import CacheEvent, Item, Undecoded, decoded, encode_kept
from kprov.cluster.storage.codec import Codec
from kprov.cluster.storage.consistent_reads import ConsistentReads
from kprov.cluster.storage.errors import RevisionExpiredError, StorageError
from kprov.cluster.storage.etcd import EtcdKV, prefix_end
from kprov.cluster.storage.keys import REGISTRY_PREFIX
from kprov.cluster.storage.list_snapshots import ListSnapshots
from kprov.cluster.storage.shared_tries import SharedTries, SharingCodec
from kprov.cluster.storage.subscription import Subscription
from kprov.cluster.storage.watch_stream import EtcdWatchStream

__all__ = ["WatchCache"]

_log = logging.getLogger(__name__)
_LOAD_PAGE = 2000
_MAX_ADOPTED = 10_000  # own writes whose events have not arrived yet
_MAX_UNDER = 4096  # prefixes whose scopes are remembered
_EVENTS_FIRST_S = 0.025  # wait_for: how long events alone may bring the cache up to date
_CHECK_AT_MOST_S = 0.5  # wait_for: the longest gap between asking etcd while events lag
_HOT_EVENTS = 2000  # the newest events keep their decoded objects; older ones are packed


def _parent(key: str) -> str:
    """``/registry/pods/ns/name`` -> ``/registry/pods/ns/``: objects are indexed by scope."""
    return key[: key.rfind("/") + 1]


class WatchCache:
    def __init__(
        self,
        kv: EtcdKV,
        codec: Codec,
        bucket_of: Callable[[str], str],
        capacity: int = 100_000,
        hot_events: int = _HOT_EVENTS,
    ) -> None:
        self._kv = kv
        self._tries = SharedTries()  # one copy of each managedFields trie (see .shared_tries)
        self._codec: Codec = SharingCodec(codec, self._tries)  # type: ignore[assignment]
        self._bucket_of = bucket_of
        self._capacity = capacity
        self._hot = max(1, hot_events)
        self._state: dict[str, dict[str, Item]] = {}  # scope prefix -> key -> object (never shrinks)
        self._scopes_made = 0  # scopes added to _state so far (a new one may fall under a prefix)
        # prefix that is no scope itself -> (_scopes_made then, the scopes under it)
        self._under: dict[str, tuple[int, list[str]]] = {}
        self._loads = 0  # whole loads so far (each replaces every scope)
        self._changes: dict[str, int] = {}  # scope prefix -> events applied to it since the load
        self._encoded: dict[str, tuple[dict[str, Any], bytes]] = {}  # key -> (object, its JSON)
        self._adopted: dict[str, tuple[int, dict[str, Any]]] = {}  # key -> own write (revision, object)
        self._buckets: dict[str, str] = {}  # scope prefix -> its bucket
        self._ring: deque[CacheEvent] = deque()
        self._latest: dict[str, CacheEvent] = {}  # key -> its newest event in the ring
        self._oldest = 0  # watching from any revision >= this is answerable
        self.revision = 0
        # the revision up to which every event has been applied (and handed to subscribers):
        # ``revision`` less its moves by _unchanged_since, which events may still follow
        self.events_revision = 0
        self._live_keys = 0  # keys under /registry/ in etcd at self.revision, by the events
        self._subscribers: dict[str, set[Subscription]] = {}
        self._advanced = asyncio.Condition()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream: EtcdWatchStream | None = None
        self.list_snapshots = ListSnapshots()  # what paginated lists' first pages came from
        self.consistent_reads = ConsistentReads()  # (metrics: how often a list fell back to etcd)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    async def stop(self) -> None:
        await stop_tasks(self._task)
        self._end_all_subscribers()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def _load(self) -> None:
        start = REGISTRY_PREFIX.encode()
        end = prefix_end(start)
        revision = 0
        state: dict[str, dict[str, Item]] = {}
        live_keys = 0
        while True:
            page = await self._kv.range(start, end, revision=revision, limit=_LOAD_PAGE)
            revision = revision or page.revision
            live_keys += len(page.kvs)
            for kv in page.kvs:
                key = kv.key.decode()
                state.setdefault(_parent(key), {})[key] = Undecoded(
                    self._codec, key, kv.value, kv.mod_revision
                )
            if not page.more or not page.kvs:
                break
            start = page.kvs[-1].key + b"\x00"
        self._state = state
        self._scopes_made += 1
        self._loads += 1
        self._changes = {}
        self._under.clear()
        self._live_keys = live_keys
        self._encoded.clear()
        self._adopted.clear()
        self._ring.clear()
        self._latest.clear()
        self._oldest = revision
        self.revision = revision
        self.events_revision = revision
        # A watch that subscribed while the cache was reloading followed the old history; the
        # events between it and this load are in neither. End it: its client watches again
        # from its last resourceVersion and gets them, or a 410 and relists (never a gap).
        self._end_all_subscribers()
        self._ready.set()

    async def _run(self) -> None:
        while True:
            try:
                self._stream = EtcdWatchStream(self._kv, REGISTRY_PREFIX.encode(), self.revision + 1)
                async for batch in self._stream.batches():
                    for raw in batch.events:
                        self._apply(raw)
                    if batch.revision > self.revision:
                        self.revision = batch.revision
                    if batch.revision > self.events_revision:  # etcd: all events up to it came
                        self.events_revision = batch.revision
                    async with self._advanced:
                        self._advanced.notify_all()
                    if stop_requested():  # cancelled, the CancelledError lost on the way
                        return
            except asyncio.CancelledError:
                raise
            except (StorageError, Exception) as exc:  # keep serving: reload and go on
                if stop_requested():  # (a cancellation that came back as an RPC error)
                    raise asyncio.CancelledError from exc
                _log.warning("watch cache: etcd watch failed (%r); reloading", exc)
                self._stream = None
                self._ready.clear()
                self._end_all_subscribers()
                await self._reload()

    async def _reload(self) -> None:
        """Load again until it works (etcd may still be restarting): the cache is ready
        again only once it holds a whole consistent state."""
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                await self._load()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop_requested():
                    raise asyncio.CancelledError from exc
                _log.warning("watch cache: reload failed (%r); retrying", exc)
                delay = min(delay * 2, 5.0)

    def _apply(self, raw: Any) -> None:
        key = raw.kv.key.decode()
        revision = int(raw.kv.mod_revision)
        parent = _parent(key)
        bucket = self._buckets.get(parent)
        if bucket is None:  # a key's bucket is its scope's: worked out once per scope
            bucket = self._buckets[parent] = self._bucket_of(key)
        objects = self._state.get(parent)
        if objects is None:
            objects = self._state[parent] = {}
            self._scopes_made += 1
        prev = objects.get(key)
        self._changes[parent] = self._changes.get(parent, 0) + 1
        self._encoded.pop(key, None)
        event: CacheEvent
        if raw.type == 1:  # DELETE
            self._live_keys -= 1  # etcd sends deletes of existing keys only
            if prev is None:
                return
            del objects[key]
            if prev.__class__ is Undecoded and prev.obj is None:  # type: ignore[union-attr]
                last: Item = Undecoded(self._codec, key, prev.value, revision)  # type: ignore[union-attr]
            else:
                before = decoded(prev)
                last = {
                    **before,
                    "metadata": {**before.get("metadata", {}), "resourceVersion": str(revision)},
                }
            event = CacheEvent("DELETED", key, last, prev, revision)
        else:
            if raw.kv.version == 1:  # the key's first version: it is new
                self._live_keys += 1
            adopted = self._adopted.get(key)
            if adopted is not None and adopted[0] <= revision:  # a later own write stays adopted
                del self._adopted[key]  # for its own event (two writes before the cache caught up)
            item: Item
            if adopted is not None and adopted[0] == revision:
                item = adopted[1]
            else:
                item = Undecoded(self._codec, key, raw.kv.value, revision)
            event = CacheEvent("MODIFIED" if prev is not None else "ADDED", key, item, prev, revision)
        subscribers = self._subscribers.get(bucket)
        if subscribers and not event.decodable():  # they will read it: decode now, or skip it
            return
        if event.type != "DELETED":
            objects[key] = event._obj
        self.revision = revision
        self.events_revision = revision
        self._ring.append(event)
        earlier = self._latest.get(key)
        if earlier is not None:
            event.follows(earlier)
        self._latest[key] = event
        if len(self._ring) > self._capacity:
            dropped = self._ring.popleft()
            self._oldest = dropped.revision
            if self._latest.get(dropped.key) is dropped:
                del self._latest[dropped.key]
        if len(self._ring) > self._hot:
            cooled = self._ring[-self._hot - 1]
            cooled.pack(self._state.get(_parent(cooled.key), {}).get(cooled.key))
        for sub in tuple(subscribers or ()):
            if key.startswith(sub.prefix):
                sub.push(event)

    def adopt(self, key: str, revision: int, obj: dict[str, Any]) -> None:
        """``obj`` is what this process just stored under ``key`` at ``revision`` (with that
        resourceVersion, JSON types only, never mutated again): the cache holds it instead of
        decoding etcd's copy, whether that event was already applied or is still to come.
        Its managedFields' tries are replaced by the cache's shared equal ones."""
        self._tries.share(obj)
        if revision <= self.revision:
            objects = self._state.get(_parent(key), {})
            item = objects.get(key)
            if item.__class__ is Undecoded and item.revision == revision and item.obj is None:  # type: ignore[union-attr]
                item.obj = obj  # type: ignore[union-attr]  # events that share it see it too
                objects[key] = obj
            return
        if len(self._adopted) >= _MAX_ADOPTED:
            del self._adopted[next(iter(self._adopted))]
        self._adopted[key] = (revision, obj)

    def _end_all_subscribers(self) -> None:
        for subs in self._subscribers.values():
            for sub in subs:
                sub.push(None)
        self._subscribers.clear()

    # -- reads -----------------------------------------------------------------------------
    def _scopes(self, prefix: str) -> list[dict[str, Item]]:
        """The scopes under ``prefix``: itself when it is one, else those it prefixes, found by
        a scan of every scope once per scope added (an admission check's namespace with none
        of that resource, such as LimitRanges for every pod create, used to scan them all on
        every request, which showed in a busy server's profile)."""
        exact = self._state.get(prefix)
        if exact is not None:
            scopes = [exact]
        else:
            under = self._under.get(prefix)
            if under is None or under[0] != self._scopes_made:
                if len(self._under) >= _MAX_UNDER:
                    self._under.clear()
                under = self._under[prefix] = (
                    self._scopes_made, [parent for parent in self._state if parent.startswith(prefix)]
                )
            scopes = [self._state[parent] for parent in under[1]]
        for objects in scopes:
            self._decode_all(objects)
        return scopes

    def _decode_all(self, objects: dict[str, Item]) -> None:
        undecoded = [key for key, item in objects.items() if item.__class__ is Undecoded]
        for key in undecoded:
            self._decode_in_place(objects, key)

    def _decode_in_place(self, objects: dict[str, Item], key: str) -> dict[str, Any] | None:
        item = objects[key]
        try:
            obj = decoded(item)
        except Exception as exc:  # left out, as an undecodable event always was
            _log.warning("watch cache: cannot decode %s: %s", key, exc)
            del objects[key]
            parent = _parent(key)
            self._changes[parent] = self._changes.get(parent, 0) + 1
            return None
        objects[key] = obj
        return obj

    def snapshot(self, prefix: str) -> tuple[list[dict[str, Any]], int]:
        """Current objects under ``prefix`` (key order) and the revision they are at.
        ``prefix`` is a scope prefix (one namespace, or one resource)."""
        _, objects, revision = self.keyed_snapshot(prefix)
        return objects, revision

    def bucket_of(self, prefix: str) -> str:
        """The resource bucket a key or scope prefix falls in (metrics name it)."""
        return self._bucket_of(prefix)

    def keyed_snapshot(self, prefix: str) -> tuple[list[str], list[dict[str, Any]], int]:
        """:meth:`snapshot` with the objects' keys (sorted; ``keys[i]`` is ``objects[i]``'s)."""
        merged: dict[str, dict[str, Any]] = {}
        for objects in self._scopes(prefix):
            merged.update(objects)  # type: ignore[arg-type]  # all decoded by _scopes
        keys = sorted(merged)
        return keys, [merged[k] for k in keys], self.revision

    def get(self, key: str) -> dict[str, Any] | None:
        objects = self._state.get(_parent(key))
        item = objects.get(key) if objects is not None else None
        if item is None or item.__class__ is not Undecoded:
            return item  # type: ignore[return-value]
        return self._decode_in_place(objects, key)  # type: ignore[arg-type]

    def encoded(self, key: str, obj: dict[str, Any]) -> bytes:
        """The JSON of ``obj`` (a cached object stored under ``key``), encoded once per version:
        lists of thousands of unchanged objects cost a join, not a serialization."""
        memo = self._encoded.get(key)
        if memo is not None and memo[0] is obj:
            return memo[1]
        data = encode_kept(obj)  # (kept: exactly its length)
        if self.get(key) is obj:
            self._encoded[key] = (obj, data)
        return data

    def scope(self, prefix: str) -> list[dict[str, Any]]:
        """The objects directly under ``prefix`` (one namespace, or a cluster-scoped
        resource), unordered: one dictionary lookup, for per-request checks."""
        objects = self._state.get(prefix)
        if not objects:
            return []
        self._decode_all(objects)
        return list(objects.values())  # type: ignore[arg-type]  # all decoded

    def changes(self, prefix: str) -> tuple[int, int]:
        """A mark that differs whenever an object directly under the scope ``prefix`` may have
        changed (an event applied to it, or the cache loaded again): per-request readers of a
        few configuration objects (API Priority and Fairness) rebuild only when it moves."""
        return self._loads, self._changes.get(prefix, 0)

    def scope_sizes(self) -> Iterator[tuple[str, int]]:
        """(scope prefix, objects in it) for every scope: counts without decoding (metrics)."""
        for scope, objects in list(self._state.items()):
            yield scope, len(objects)

    def objects(self, prefix: str) -> Iterable[dict[str, Any]]:
        """Unordered iteration over objects under ``prefix`` (cheap, for indexes/counts)."""
        for objects in self._scopes(prefix):
            yield from objects.values()  # type: ignore[misc]  # all decoded by _scopes

    async def wait_for(self, revision: int, timeout: float = 3.0, *, while_advancing_s: float = 0.0) -> bool:
        """Wait until the cache holds etcd's ``/registry/`` as of ``revision``; False after
        ``timeout`` (the caller then reads etcd itself). With ``while_advancing_s``, ``timeout``
        counts from the cache's last advance instead, up to ``while_advancing_s`` in all: a
        cache that is behind but moving is waited for; one that stalls is not.

        Events usually bring it there within milliseconds: the missing revision is most often
        a write just made. After ``_EVENTS_FIRST_S`` without them the cache asks etcd whether
        anything under ``/registry/`` happened between its revision and ``revision`` (see
        :meth:`_unchanged_since`); if not, the revision was written elsewhere and the cache
        is current there."""
        if self.revision >= revision:
            return True
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout
        last_limit = started + max(timeout, while_advancing_s)
        check_at = started + _EVENTS_FIRST_S
        check_every = _EVENTS_FIRST_S
        seen = self.revision
        while self.revision < revision:
            now = loop.time()
            if self.revision > seen:  # events are arriving: they bring it, no need to ask etcd yet
                seen = self.revision
                check_at = max(check_at, now + _EVENTS_FIRST_S)
                if while_advancing_s:  # moving: the stall clock starts again
                    deadline = min(now + timeout, last_limit)
            if now >= deadline:
                return False
            if now >= check_at:
                if await self._unchanged_since(revision):
                    break
                check_every = min(check_every * 2, _CHECK_AT_MOST_S)  # events are on their way
                check_at = loop.time() + check_every
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(deadline, check_at) - loop.time())):
                        await self._advanced.wait()
        return True

    async def _unchanged_since(self, revision: int) -> bool:
        """True (and the cache moved to ``revision``) if etcd's ``/registry/`` at ``revision``
        is what the cache holds: no key there changed after the cache's revision (creates
        and updates would), and there are as many keys as the cache's events left (so none
        was deleted either). Events arriving meanwhile are newer than ``revision``."""
        seen, live_keys = self.revision, self._live_keys
        start = REGISTRY_PREFIX.encode()
        end = prefix_end(start)
        try:
            # etcd counts before filtering (count_only ignores min_mod_revision): ask for one key.
            changed = await self._kv.range(
                start, end, revision=revision, limit=1, keys_only=True, min_mod_revision=seen + 1
            )
            if changed.kvs:
                return False
            total = await self._kv.range(start, end, revision=revision, count_only=True)
        except StorageError:
            return False
        if total.count != live_keys or self.revision != seen and self.revision < revision:
            return False
        if self.revision < revision:
            self.revision = revision
            async with self._advanced:
                self._advanced.notify_all()
        return True

    # -- watching --------------------------------------------------------------------------
    def subscribe(self, prefix: str, after_revision: int) -> Subscription:
        """Events under ``prefix`` with revision > ``after_revision``; raises
        :class:`RevisionExpiredError` when that history is gone."""
        if after_revision < self._oldest:
            raise RevisionExpiredError(after_revision, self._oldest)
        sub = Subscription(self, prefix, after_revision)
        for event in self._ring_after(after_revision):
            if event.key.startswith(prefix):
                sub.push(event)
        self._subscribers.setdefault(self._bucket_of(prefix), set()).add(sub)
        return sub

    def _ring_after(self, revision: int) -> list[CacheEvent]:
        newer: list[CacheEvent] = []
        for event in reversed(self._ring):
            if event.revision <= revision:
                break
            newer.append(event)
        newer.reverse()
        return [event for event in newer if event.decodable()]

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(self._bucket_of(sub.prefix))
        if subs is not None:
            subs.discard(sub)
