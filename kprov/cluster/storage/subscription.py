"""A client watch's subscription to the watch cache: its queue of events, and when it may be
told that it has caught up (the BOOKMARK rule).

The cache (:mod:`kprov.cluster.storage.watch_cache`) hands each event to every matching
subscription synchronously, in etcd's order, as it applies it; the watch handler
(:mod:`kprov.cluster.apiserver.handlers.watch`) takes them from the queue and writes them.
Three rules keep a client that resumes from the last resourceVersion it got from ever
skipping an event:

- **Nothing at or below the start revision.** A watch may start from a revision its cache
  has not reached (its client came from another API server through the VIP); the events up
  to it that arrive later are dropped, as kube-apiserver's cacheWatcher filters them: the
  client has them already.
- **Ended only between revisions.** A subscriber too far behind (``_MAX_PENDING`` queued)
  is ended, its client re-watches. The writes of one group commit share a revision, and a
  client resumes from the last one it got, so the end never falls inside a revision.
- **A bookmark never passes a queued event.** A BOOKMARK's resourceVersion is where the
  client resumes from, so it may carry a revision only when every event up to it has left
  the queue: :meth:`Subscription.bookmark` answers None while anything is queued (a wait
  can time out with an event just arrived in the same turn of the loop), and otherwise the
  cache's ``events_revision`` (events applied and handed out up to there; not its
  ``revision``, which a consistent read may move past events still on their way).

Upstream gets the third rule for free: its bookmarks travel through the watcher's own
channel behind the events they cover.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from kprov.cluster.storage.cache_events import CacheEvent

__all__ = ["EventSource", "Subscription"]

_MAX_PENDING = 50_000  # a subscriber this far behind is dropped (its client re-watches)


class EventSource(Protocol):
    """What a subscription needs of its cache."""

    @property
    def events_revision(self) -> int: ...

    def unsubscribe(self, sub: Subscription) -> None: ...


class Subscription:
    """A client watch: events under ``prefix`` newer than its start revision, in order.

    Events at or below the start revision are never delivered, even when they reach the
    cache after the watch began (its client came from another API server, whose cache was
    further on): the client has them already, as kube-apiserver's cacheWatcher filters."""

    def __init__(self, cache: EventSource, prefix: str, after_revision: int = 0) -> None:
        self.prefix = prefix
        self.after = after_revision
        self._cache = cache
        self._queue: asyncio.Queue[CacheEvent | None] = asyncio.Queue()
        self._last = after_revision  # the revision of the last event queued
        self.closed = False

    def push(self, event: CacheEvent | None) -> None:
        if self.closed or event is not None and event.revision <= self.after:
            return
        # A subscriber too far behind is ended, but only between revisions: the writes of one
        # group commit share a revision, and a client resuming from the last one it got must
        # have had all of it.
        if event is None or self._queue.qsize() > _MAX_PENDING and event.revision != self._last:
            self.closed = True
            self._queue.put_nowait(None)
            return
        self._last = event.revision
        self._queue.put_nowait(event)

    async def next(self, timeout: float | None) -> CacheEvent | None:
        """The next event; None when the subscription ended; TimeoutError after ``timeout``."""
        if self.closed and self._queue.empty():
            return None
        async with asyncio.timeout(timeout):
            return await self._queue.get()

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

    def bookmark(self) -> int | None:
        """The resourceVersion a BOOKMARK may carry now: the revision up to which the cache's
        events have all been taken from this queue (so sent, by a handler that writes what
        it takes before it waits again). None while events are queued -- a wait's timeout
        can end with one just arrived, and a bookmark past it would let a client that
        resumes from the bookmark skip it -- and while the cache is still below the
        revision the watch started from (the client is further on already)."""
        if self.closed or not self._queue.empty():
            return None
        revision = self._cache.events_revision
        return revision if revision >= self.after else None

    def close(self) -> None:
        self.closed = True
        self._cache.unsubscribe(self)
