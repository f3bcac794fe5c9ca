"""A watch that subscribes while the cache reloads (its etcd watch broke) must not miss the
events between the old history and the new load: the fault harness's killed etcd member
found exactly that gap. The cache is loaded from a fake etcd range and driven event by event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

from kprov.cluster.storage.watch_cache import WatchCache
from tests.unit.apiserver.watch_events import KV, RawEvent


class _JsonCodec:
    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        return orjson.loads(value)  # type: ignore[no-any-return]


@dataclass
class _Page:
    kvs: list[KV]
    revision: int
    more: bool = False


@dataclass
class _Etcd:
    """etcd's ``/registry/`` as one page at ``revision``."""

    revision: int = 0
    kvs: dict[bytes, KV] = field(default_factory=dict)

    def put(self, name: str) -> RawEvent:
        self.revision += 1
        key = f"/registry/configmaps/ns/{name}".encode()
        kv = KV(key, orjson.dumps({"metadata": {"name": name}}), self.revision, 1)
        self.kvs[key] = kv
        return RawEvent(0, kv)

    async def range(self, start: bytes, end: bytes, **_: Any) -> _Page:
        return _Page(sorted(self.kvs.values(), key=lambda kv: kv.key), self.revision)


def _bucket(key: str) -> str:
    return "/".join(key.split("/")[:3]) + "/"


def test_a_watch_made_during_a_reload_is_ended_when_the_load_completes() -> None:
    async def scenario() -> None:
        etcd = _Etcd()
        cache = WatchCache(etcd, _JsonCodec(), _bucket)  # type: ignore[arg-type]
        await cache._load()
        cache._apply(etcd.put("a"))  # rv 1, seen by the cache and its watchers
        # the etcd watch breaks: the cache ends its watchers and reloads; meanwhile etcd moves on
        cache._end_all_subscribers()
        cache._ready.clear()
        etcd.put("b")  # rv 2: no event will ever carry it to the cache
        late = cache.subscribe("/registry/configmaps/ns/", 1)  # a client resuming from rv 1
        await cache._load()
        assert late.closed, "a watch from before the load would never see rv 2"
        # the client watches again from rv 1: 410 (history replaced), it relists and sees b
        try:
            cache.subscribe("/registry/configmaps/ns/", 1)
        except Exception as exc:
            assert type(exc).__name__ == "RevisionExpiredError"
        else:
            raise AssertionError("a watch from before the reload must get 410")
        names = [o["metadata"]["name"] for o in cache.snapshot("/registry/configmaps/ns/")[0]]
        assert names == ["a", "b"]
        fresh = cache.subscribe("/registry/configmaps/ns/", cache.revision)
        cache._apply(etcd.put("c"))
        assert [e.key for e in fresh.drain()] == ["/registry/configmaps/ns/c"]
        assert not fresh.closed

    asyncio.run(scenario())
