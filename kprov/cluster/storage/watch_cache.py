"""The watch cache: one etcd watch on ``/registry/`` feeding every client watch.

At start it reads every object at one revision R (in pages, all at R), then watches etcd from
R+1. It keeps

- the current state per resource prefix (so ``list?resourceVersion=0`` needs no etcd read),
- a ring of recent events (so a watch from resourceVersion N replays what came after N, and
  answers :class:`RevisionExpiredError` -> 410 when N is older than the ring),
- subscribers, each with a key prefix and a queue; every event is handed to the matching
  ones synchronously in etcd order, so a subscriber never sees gaps or duplicates.

Objects in the cache are shared by all readers and must never be mutated. An event's JSON
line is encoded once and reused for every subscriber (fan-out to many watchers is cheap).
If the etcd watch breaks, every subscriber is ended (clients re-watch, possibly get 410 and
relist) and the cache reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kprov.cluster.storage.codec import Codec
from kprov.cluster.storage.errors import RevisionExpiredError, StorageError
from kprov.cluster.storage.etcd import EtcdKV, prefix_end
from kprov.cluster.storage.keys import REGISTRY_PREFIX
from kprov.cluster.storage.watch_stream import EtcdWatchStream

__all__ = ["CacheEvent", "Subscription", "WatchCache", "encode_json"]

_log = logging.getLogger(__name__)
_LOAD_PAGE = 2000
_MAX_PENDING = 50_000  # a subscriber this far behind is dropped (its client re-watches)


def encode_json(obj: Any) -> bytes:
    """Compact JSON, the form every response uses."""
    return orjson.dumps(obj)


def _parent(key: str) -> str:
    """``/registry/pods/ns/name`` -> ``/registry/pods/ns/``: objects are indexed by scope."""
    return key[: key.rfind("/") + 1]


@dataclass
class CacheEvent:
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    obj: dict[str, Any]  # the new state; for DELETED the last state, resourceVersion = revision
    prev: dict[str, Any] | None  # the state before (for selector transitions)
    revision: int
    _json: bytes | None = field(default=None, repr=False)

    def json_line(self) -> bytes:
        """``{"type":..,"object":..}\\n``, encoded once for all subscribers."""
        if self._json is None:
            self._json = b'{"type":"' + self.type.encode() + b'","object":' + encode_json(self.obj) + b"}\n"
        return self._json


class Subscription:
    """A client watch: events under ``prefix`` newer than its start revision, in order."""

    def __init__(self, cache: WatchCache, prefix: str) -> None:
        self.prefix = prefix
        self._cache = cache
        self._queue: asyncio.Queue[CacheEvent | None] = asyncio.Queue()
        self.closed = False

    def push(self, event: CacheEvent | None) -> None:
        if self.closed:
            return
        if event is None or self._queue.qsize() > _MAX_PENDING:
            self.closed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(event)

    async def next(self, timeout: float | None) -> CacheEvent | None:
        """The next event; None when the subscription ended; TimeoutError after ``timeout``."""
        if self.closed and self._queue.empty():
            return None
        return await asyncio.wait_for(self._queue.get(), timeout)

    def drain(self) -> list[CacheEvent]:
        """Events already queued, without waiting."""
        events: list[CacheEvent] = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is None:
                self.closed = True
                break
            events.append(event)
        return events

    def close(self) -> None:
        self.closed = True
        self._cache.unsubscribe(self)


class WatchCache:
    def __init__(
        self,
        kv: EtcdKV,
        codec: Codec,
        bucket_of: Callable[[str], str],
        capacity: int = 100_000,
    ) -> None:
        self._kv = kv
        self._codec = codec
        self._bucket_of = bucket_of
        self._capacity = capacity
        self._state: dict[str, dict[str, dict[str, Any]]] = {}
        self._encoded: dict[str, tuple[dict[str, Any], bytes]] = {}  # key -> (object, its JSON)
        self._ring: deque[CacheEvent] = deque()
        self._oldest = 0  # watching from any revision >= this is answerable
        self.revision = 0
        self._subscribers: dict[str, set[Subscription]] = {}
        self._advanced = asyncio.Condition()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream: EtcdWatchStream | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._end_all_subscribers()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def _load(self) -> None:
        start = REGISTRY_PREFIX.encode()
        end = prefix_end(start)
        revision = 0
        state: dict[str, dict[str, dict[str, Any]]] = {}
        while True:
            page = await self._kv.range(start, end, revision=revision, limit=_LOAD_PAGE)
            revision = revision or page.revision
            for kv in page.kvs:
                key = kv.key.decode()
                try:
                    obj = self._codec.decode(key, kv.value, kv.mod_revision)
                except Exception as exc:  # one undecodable value must not hide the rest
                    _log.warning("watch cache: cannot decode %s: %s", key, exc)
                    continue
                state.setdefault(_parent(key), {})[key] = obj
            if not page.more or not page.kvs:
                break
            start = page.kvs[-1].key + b"\x00"
        self._state = state
        self._encoded.clear()
        self._ring.clear()
        self._oldest = revision
        self.revision = revision
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
                    async with self._advanced:
                        self._advanced.notify_all()
            except asyncio.CancelledError:
                raise
            except (StorageError, Exception) as exc:  # keep serving: reload and go on
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
                _log.warning("watch cache: reload failed (%r); retrying", exc)
                delay = min(delay * 2, 5.0)

    def _apply(self, raw: Any) -> None:
        key = raw.kv.key.decode()
        revision = int(raw.kv.mod_revision)
        bucket = self._bucket_of(key)
        objects = self._state.setdefault(_parent(key), {})
        prev = objects.get(key)
        try:
            self._encoded.pop(key, None)
            if raw.type == 1:  # DELETE
                if prev is None:
                    return
                del objects[key]
                last = {**prev, "metadata": {**prev.get("metadata", {}), "resourceVersion": str(revision)}}
                event = CacheEvent("DELETED", key, last, prev, revision)
            else:
                obj = self._codec.decode(key, raw.kv.value, revision)
                objects[key] = obj
                event = CacheEvent("MODIFIED" if prev is not None else "ADDED", key, obj, prev, revision)
        except Exception as exc:
            _log.warning("watch cache: cannot decode %s at %d: %s", key, revision, exc)
            return
        self.revision = revision
        self._ring.append(event)
        if len(self._ring) > self._capacity:
            self._oldest = self._ring.popleft().revision
        for sub in tuple(self._subscribers.get(bucket, ())):
            if key.startswith(sub.prefix):
                sub.push(event)

    def _end_all_subscribers(self) -> None:
        for subs in self._subscribers.values():
            for sub in subs:
                sub.push(None)
        self._subscribers.clear()

    # -- reads -----------------------------------------------------------------------------
    def _scopes(self, prefix: str) -> list[dict[str, dict[str, Any]]]:
        exact = self._state.get(prefix)
        if exact is not None:
            return [exact]
        return [objects for parent, objects in self._state.items() if parent.startswith(prefix)]

    def snapshot(self, prefix: str) -> tuple[list[dict[str, Any]], int]:
        """Current objects under ``prefix`` (key order) and the revision they are at.
        ``prefix`` is a scope prefix (one namespace, or one resource)."""
        merged: dict[str, dict[str, Any]] = {}
        for objects in self._scopes(prefix):
            merged.update(objects)
        return [merged[k] for k in sorted(merged)], self.revision

    def get(self, key: str) -> dict[str, Any] | None:
        return self._state.get(_parent(key), {}).get(key)

    def encoded(self, key: str, obj: dict[str, Any]) -> bytes:
        """The JSON of ``obj`` (a cached object stored under ``key``), encoded once per version:
        lists of thousands of unchanged objects cost a join, not a serialization."""
        memo = self._encoded.get(key)
        if memo is not None and memo[0] is obj:
            return memo[1]
        data = encode_json(obj)
        if self.get(key) is obj:
            self._encoded[key] = (obj, data)
        return data

    def objects(self, prefix: str) -> Iterable[dict[str, Any]]:
        """Unordered iteration over objects under ``prefix`` (cheap, for indexes/counts)."""
        for objects in self._scopes(prefix):
            yield from objects.values()

    async def wait_for(self, revision: int, timeout: float = 3.0) -> bool:
        """Wait until the cache has seen everything up to ``revision`` (asking etcd for
        progress, since the last write may have been outside /registry/)."""
        if self.revision >= revision:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision < revision:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._stream is not None:
                await self._stream.request_progress()
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._advanced.wait(), min(remaining, 0.25))
        return True

    # -- watching --------------------------------------------------------------------------
    def subscribe(self, prefix: str, after_revision: int) -> Subscription:
        """Events under ``prefix`` with revision > ``after_revision``; raises
        :class:`RevisionExpiredError` when that history is gone."""
        if after_revision < self._oldest:
            raise RevisionExpiredError(after_revision, self._oldest)
        sub = Subscription(self, prefix)
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
        return newer

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(self._bucket_of(sub.prefix))
        if subs is not None:
            subs.discard(sub)
