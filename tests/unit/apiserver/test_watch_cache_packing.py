"""Old watch-cache events keep their objects as JSON only; what any reader sees is unchanged.

The cache is driven event by event (``_apply``, as its etcd watch does) with a plain JSON
codec: a subscriber makes every event decoded, as on a busy server; once ``hot_events``
newer events have come, an old event's superseded objects are packed (JSON), the current
state's objects never are, and a watch replaying from an old revision still gets every
object and previous object exactly.
"""

from __future__ import annotations

from typing import Any

import orjson

from kprov.cluster.storage.cache_events import Packed, Undecoded
from kprov.cluster.storage.watch_cache import WatchCache
from tests.unit.apiserver.watch_events import KV, RawEvent


class _JsonCodec:
    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        obj = orjson.loads(value)
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj  # type: ignore[no-any-return]


def _obj(name: str, n: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}, "data": {"n": str(n), "pad": "x" * 50}}


def _cache() -> tuple[WatchCache, Any]:
    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2], hot_events=5)  # type: ignore[arg-type]
    sub = cache.subscribe("/registry/configmaps/", 0)
    return cache, sub


def test_old_events_are_packed_and_replay_exactly() -> None:
    cache, live = _cache()
    versions: dict[str, int] = {}
    expected = []  # (revision, type, obj, prev) as a fresh decode gives them
    delivered = []  # what a live watcher keeping up reads
    for n in range(30):
        name = f"cm-{n % 3}"
        key = f"/registry/configmaps/ns/{name}"
        revision = n + 1
        versions[name] = versions.get(name, 0) + 1
        prev = expected_state(expected, key)
        obj = {**_obj(name, n), "metadata": {**_obj(name, n)["metadata"], "resourceVersion": str(revision)}}
        if n % 2:  # this server's own write: the cache holds the written object, never decoded
            cache.adopt(key, revision, {**obj, "metadata": dict(obj["metadata"])})
        cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(_obj(name, n)), revision, versions[name])))
        expected.append((revision, "ADDED" if prev is None else "MODIFIED", key, obj, prev))
        delivered += [e.obj for e in live.drain()]
    assert delivered == [x[3] for x in expected]

    ring = list(cache._ring)
    light = [e for e in ring[:-5] if _light(e._obj) and (e._prev is None or _light(e._prev))]
    assert len(light) == 30 - 5, "every old event: superseded objects packed or undecoded"
    assert any(e._obj.__class__ is Packed for e in ring[:-5])  # the adopted ones
    for e in ring[-5:]:
        assert not _light(e._obj)  # hot: decoded
    for key in {x[2] for x in expected}:
        current = cache.get(key)
        assert current is not None and current.__class__ is dict
    replay = cache.subscribe("/registry/configmaps/", 0).drain()
    assert [(e.revision, e.type, e.obj, e.prev) for e in replay] == [
        (r, t, o, p) for r, t, _k, o, p in expected
    ]
    assert all(e.json_line() == orjson.dumps({"type": e.type, "object": e.obj}) + b"\n" for e in replay)


def test_a_deleted_key_keeps_its_last_state_in_the_event() -> None:
    cache, _live = _cache()
    key = "/registry/configmaps/ns/gone"
    cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(_obj("gone", 1)), 1, 1)))
    cache._apply(RawEvent(1, KV(key.encode(), b"", 2, 0)))
    for n in range(10):
        other = f"/registry/configmaps/ns/o{n}"
        cache._apply(RawEvent(0, KV(other.encode(), orjson.dumps(_obj(f"o{n}", n)), 3 + n, 1)))
    deleted = [e for e in cache._ring if e.type == "DELETED"][0]
    assert _light(deleted._obj) and _light(deleted._prev)
    assert deleted.obj["metadata"]["resourceVersion"] == "2"
    assert deleted.prev["data"]["n"] == "1" and cache.get(key) is None


def expected_state(expected: list, key: str) -> dict | None:
    for _r, _t, k, obj, _p in reversed(expected):
        if k == key:
            return obj
    return None


def _light(item: Any) -> bool:
    """Holding no decoded object: packed JSON, or an etcd value that forgot its decoding."""
    return item.__class__ is Packed or (item.__class__ is Undecoded and item.obj is None)


def _pod_versions(name: str) -> list[dict[str, Any]]:
    """A density pod's three writes: created, bound, reported Running."""
    meta = {"name": name, "namespace": "ns"}
    return [
        {"metadata": meta, "spec": {"c": "x" * 40}, "status": {"phase": "Pending"}},
        {"metadata": meta, "spec": {"c": "x" * 40, "nodeName": "n1"}, "status": {"phase": "Pending"}},
        {"metadata": meta, "spec": {"c": "x" * 40, "nodeName": "n1"}, "status": {"phase": "Running"}},
    ]


def test_versions_packed_while_current_are_packed_once_superseded() -> None:
    """Each pod's writes come more than ``hot_events`` apart (as on a density run: all created,
    then bound, then Running), so every event is old while its object is still the current
    state. Once the next version comes, the old one must keep JSON only, and the next event's
    ``prev`` must share that JSON rather than encode it again; replay stays exact."""
    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2], hot_events=3)  # type: ignore[arg-type]
    live = cache.subscribe("/registry/pods/", 0)
    names = [f"p{n}" for n in range(8)]
    revision = 0
    expected = []
    for step in range(3):
        for name in names:
            revision += 1
            key = f"/registry/pods/ns/{name}"
            stored = _pod_versions(name)[step]
            obj = {**stored, "metadata": {**stored["metadata"], "resourceVersion": str(revision)}}
            cache.adopt(key, revision, obj)  # this server's own write
            cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(stored), revision, step + 1)))
            live.drain()
            prev = expected_state(expected, key)
            expected.append((revision, "ADDED" if prev is None else "MODIFIED", key, obj, prev))
    ring = list(cache._ring)
    current = {id(cache.get(f"/registry/pods/ns/{name}")) for name in names}
    old = ring[:-3]
    decoded_old = {id(e._obj) for e in old if e._obj.__class__ is dict}
    assert decoded_old <= current, "an old event keeps a superseded version decoded"
    assert all(_light(e._prev) for e in old if e._prev is not None)
    shared = [e for e in old if e._prev is not None and e._prev.__class__ is Packed]
    assert shared and all(
        any(b._obj is e._prev for b in ring if b.key == e.key and b.revision < e.revision) for e in shared
    ), "prev shares the earlier event's packed form"
    replay = cache.subscribe("/registry/pods/", 0).drain()
    assert [(e.revision, e.type, e.obj, e.prev) for e in replay] == [
        (r, t, o, p) for r, t, _k, o, p in expected
    ]


def test_a_capacity_drop_forgets_the_key_newest_event() -> None:
    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2], capacity=4, hot_events=2)  # type: ignore[arg-type]
    for n in range(10):
        key = f"/registry/configmaps/ns/c{n}"
        cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(_obj(f"c{n}", n)), n + 1, 1)))
    assert len(cache._ring) == 4
    assert set(cache._latest) == {e.key for e in cache._ring}


def test_kept_encodings_hold_their_length_only() -> None:
    """orjson's bytes keep the buffer it wrote into (about twice the JSON): what the cache
    keeps (a list's encoded replies, packed previous objects) must be exactly its length."""
    import tracemalloc

    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2])  # type: ignore[arg-type]
    key = "/registry/configmaps/ns/big"
    big = {"metadata": {"name": "big", "namespace": "ns"}, "data": {f"k{n}": "v" * 30 for n in range(100)}}
    cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(big), 1, 1)))
    obj = cache.get(key)
    assert obj is not None
    tracemalloc.start()
    try:
        data = cache.encoded(key, obj)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == orjson.dumps(obj)
    assert held < 1.2 * len(data), (held, len(data))
