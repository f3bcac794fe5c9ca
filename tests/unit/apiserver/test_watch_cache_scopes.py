"""Reads by a prefix that is no scope of its own (every namespace's pods, or a namespace
without any object of that resource) see scopes added after an earlier read of it.

The cache is driven event by event (``_apply``, as its etcd watch does) with a JSON codec.
"""

from __future__ import annotations

from typing import Any

import orjson

from kprov.cluster.storage.watch_cache import WatchCache
from tests.unit.apiserver.watch_events import KV, RawEvent


class _JsonCodec:
    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        return orjson.loads(value)  # type: ignore[no-any-return]


def _put(cache: WatchCache, revision: int, resource: str, namespace: str, name: str) -> None:
    value = orjson.dumps({"metadata": {"name": name, "namespace": namespace}})
    key = f"/registry/{resource}/{namespace}/{name}".encode()
    cache._apply(RawEvent(0, KV(key, value, revision, 1)))


def _names(cache: WatchCache, prefix: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in cache.objects(prefix))


def test_prefix_reads_follow_scopes_added_later() -> None:
    cache = WatchCache(None, _JsonCodec(), lambda key: "/".join(key.split("/")[:3]) + "/")  # type: ignore[arg-type]
    _put(cache, 1, "configmaps", "a", "one")
    assert _names(cache, "/registry/configmaps/") == ["one"]
    assert _names(cache, "/registry/limitranges/b/") == []
    assert _names(cache, "/registry/limitranges/b/") == []  # (remembered)
    _put(cache, 2, "configmaps", "b", "two")
    _put(cache, 3, "limitranges", "b", "limits")
    assert _names(cache, "/registry/configmaps/") == ["one", "two"]
    assert _names(cache, "/registry/limitranges/b/") == ["limits"]
    _put(cache, 4, "configmaps", "a", "three")  # an existing scope grows: read through it
    assert _names(cache, "/registry/configmaps/") == ["one", "three", "two"]
    assert _names(cache, "/registry/") == ["limits", "one", "three", "two"]


def test_change_marks_move_with_their_scope_only() -> None:
    cache = WatchCache(None, _JsonCodec(), lambda key: "/".join(key.split("/")[:3]) + "/")  # type: ignore[arg-type]
    value = orjson.dumps({"metadata": {"name": "a"}})
    schema_key = b"/registry/flowschemas/a"
    cache._apply(RawEvent(0, KV(schema_key, value, 1, 1)))
    schemas, levels = cache.changes("/registry/flowschemas/"), cache.changes("/registry/levels/")
    _put(cache, 2, "pods", "ns", "p")
    assert cache.changes("/registry/flowschemas/") == schemas
    assert cache.changes("/registry/levels/") == levels
    cache._apply(RawEvent(0, KV(schema_key, value, 3, 2)))  # modified
    assert cache.changes("/registry/flowschemas/") != schemas
    marked = cache.changes("/registry/flowschemas/")
    cache._apply(RawEvent(1, KV(schema_key, b"", 4, 0)))  # deleted
    assert cache.changes("/registry/flowschemas/") != marked
