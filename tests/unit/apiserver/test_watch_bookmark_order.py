"""A watch's BOOKMARK must never carry a resourceVersion beyond an event not yet sent to that
watcher: a client resumes from a bookmark's resourceVersion (the fault workload does, as
client-go's reflector does), so such a bookmark followed by a broken stream skips the event
for good (issue 76: one acknowledged write never seen through a leader partition).

The race is deterministic here: the watcher's bookmark timer and the cache's event fall due
in one turn of the event loop (the loop was held up past both, as a busy API server's loop
is). The queue then holds the event while the handler's wait ends in its timeout.

A subscriber that falls too far behind is ended only between revisions: the writes of one
group commit share a revision, and its client resumes from the last one it got.

Also: a watch from a resourceVersion the cache has not reached yet (its client came from
another API server through the VIP) gets only events after that resourceVersion, as
kube-apiserver's cacheWatcher delivers (no repeats of what the client already had).
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from kprov.cluster.api.resources import REGISTRY, ResourceInfo
from kprov.cluster.apiserver.handlers.watch import handle_watch
from kprov.cluster.storage import subscription
from kprov.cluster.storage.cache_events import CacheEvent
from kprov.cluster.storage.keys import scope_prefix
from kprov.cluster.storage.subscription import Subscription
from kprov.cluster.storage.watch_cache import WatchCache
from tests.unit.apiserver.test_watch_cache_reload import _bucket, _Etcd
from tests.unit.apiserver.watch_events import RawEvent

_INTERVAL_S = 0.05


def _configmaps() -> ResourceInfo:
    info = REGISTRY.get("", "v1", "configmaps")
    assert info is not None
    return info


_CONFIGMAPS = _configmaps()
_PREFIX = scope_prefix("", "configmaps", "ns")


class _Codec:
    """etcd's value as JSON, its resourceVersion the key's revision (as the real codec sets)."""

    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        obj: dict[str, Any] = orjson.loads(value)
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj


class _Reply:
    def __init__(self) -> None:
        self.data = b""
        self.ended = False

    async def write(self, data: bytes) -> None:
        self.data += data

    async def write_eof(self) -> None:
        self.ended = True

    def events(self) -> list[tuple[str, int]]:
        out = []
        for line in self.data.splitlines():
            event = orjson.loads(line)
            out.append((event["type"], int(event["object"]["metadata"]["resourceVersion"])))
        return out


class _Connection:
    def __init__(self) -> None:
        self.reply = _Reply()

    async def start_stream(self, headers: dict[str, str], status: int = 200) -> _Reply:
        return self.reply


def _request(query: dict[str, str]) -> Any:
    return SimpleNamespace(query=MultiDictProxy(MultiDict(query)), headers=CIMultiDictProxy(CIMultiDict()))


def _context(cache: WatchCache) -> Any:
    return SimpleNamespace(
        cache=cache,
        prefix=lambda info, namespace: scope_prefix("", info.resource, namespace),
        config=SimpleNamespace(bookmark_interval_s=_INTERVAL_S),
        watch_metrics=None,
    )


async def _watch(cache: WatchCache, since: int, timeout_s: float) -> tuple[asyncio.Task[Any], _Reply]:
    connection = _Connection()
    query = {"watch": "true", "resourceVersion": str(since), "allowWatchBookmarks": "true",
             "timeoutSeconds": str(timeout_s)}
    ri: Any = SimpleNamespace(name="", namespace="ns")
    fake: Any = connection
    task = asyncio.create_task(handle_watch(_request(query), fake, _context(cache), _CONFIGMAPS, ri))
    while not cache._subscribers:  # subscribed, and waiting for its first event or bookmark
        await asyncio.sleep(0)
    await asyncio.sleep(0.005)
    return task, connection.reply


def test_a_bookmark_never_passes_an_event_still_queued_for_the_watcher() -> None:
    async def scenario() -> list[tuple[str, int]]:
        etcd = _Etcd()
        cache = WatchCache(etcd, _Codec(), _bucket)  # type: ignore[arg-type]
        await cache._load()
        cache._apply(etcd.put("a"))
        task, reply = await _watch(cache, cache.revision, timeout_s=0.5)
        loop = asyncio.get_running_loop()
        # the event falls due just before the watcher's bookmark timer ...
        loop.call_later(0.0, lambda: cache._apply(etcd.put("b")))
        time.sleep(3 * _INTERVAL_S)  # ... and the loop is held up past both
        await task
        return reply.events()

    events = asyncio.run(scenario())
    sent = [rv for kind, rv in events if kind != "BOOKMARK"]
    assert sent == [2], events
    for index, (kind, rv) in enumerate(events):
        if kind == "BOOKMARK":
            later = [e for e in events[index + 1:] if e[0] != "BOOKMARK" and e[1] <= rv]
            assert not later, f"BOOKMARK at {rv} sent before {later}: {events}"


def test_a_client_resuming_from_the_bookmark_misses_nothing() -> None:
    """What the workload does after a broken stream: watch again from the last bookmark."""
    async def scenario() -> list[int]:
        etcd = _Etcd()
        cache = WatchCache(etcd, _Codec(), _bucket)  # type: ignore[arg-type]
        await cache._load()
        cache._apply(etcd.put("a"))
        task, reply = await _watch(cache, cache.revision, timeout_s=0.5)
        loop = asyncio.get_running_loop()
        loop.call_later(0.0, lambda: cache._apply(etcd.put("b")))
        time.sleep(3 * _INTERVAL_S)
        await asyncio.sleep(0.01)  # the bookmark (if any) and what followed it are written
        task.cancel()  # the stream breaks
        await asyncio.gather(task, return_exceptions=True)
        received = reply.events()
        bookmarks = [rv for kind, rv in received if kind == "BOOKMARK"]
        # the client got the bytes up to the first bookmark only, then resumed from it
        upto = received.index(("BOOKMARK", bookmarks[0])) if bookmarks else len(received)
        last = max([rv for _, rv in received[: upto + 1]], default=1)
        sub = cache.subscribe(_PREFIX, last)
        seen = [rv for kind, rv in received[:upto] if kind != "BOOKMARK"]
        return seen + [event.revision for event in sub.drain()]

    assert asyncio.run(scenario()) == [2]


def test_a_watch_ahead_of_the_cache_gets_only_later_events() -> None:
    async def scenario() -> list[int]:
        etcd = _Etcd()
        cache = WatchCache(etcd, _Codec(), _bucket)  # type: ignore[arg-type]
        await cache._load()
        cache._apply(etcd.put("a"))  # rv 1: the cache is here
        etcd.put("b")  # rv 2 and 3: the client saw them on another API server
        etcd.put("c")
        sub = cache.subscribe(_PREFIX, 3)
        for name in ("b", "c"):  # the cache's etcd stream catches up
            cache._apply(RawEvent(0, etcd.kvs[f"{_PREFIX}{name}".encode()]))
        cache._apply(etcd.put("d"))
        return [event.revision for event in sub.drain()]

    assert asyncio.run(scenario()) == [4]


def test_a_subscriber_too_far_behind_is_ended_between_revisions(monkeypatch: Any) -> None:
    monkeypatch.setattr(subscription, "_MAX_PENDING", 2)

    async def scenario() -> tuple[list[tuple[str, int]], bool]:
        cache = WatchCache(_Etcd(), _Codec(), _bucket)  # type: ignore[arg-type]
        sub = Subscription(cache, _PREFIX)
        for name, revision in (("a", 1), ("b", 2), ("c", 3), ("d", 3), ("e", 3), ("f", 4)):
            sub.push(CacheEvent("ADDED", f"{_PREFIX}{name}", {"metadata": {"name": name}}, None, revision))
        return [(e.key.rsplit("/", 1)[-1], e.revision) for e in sub.drain()], sub.closed

    events, closed = asyncio.run(scenario())
    assert closed
    assert events == [("a", 1), ("b", 2), ("c", 3), ("d", 3), ("e", 3)]  # all of revision 3, then the end
