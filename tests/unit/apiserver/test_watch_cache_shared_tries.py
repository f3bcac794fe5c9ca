"""The watch cache's objects share equal managedFields tries; no reader sees a difference.

Pods created and updated by the same managers (a ReplicaSet's pods, their status writers)
have equal FieldsV1 tries: the cache keeps one copy (:mod:`kprov.cluster.storage.shared_tries`)
whether it adopted the object (its own write) or decoded etcd's value. Sharing is only
sound while nothing mutates a cached object: the server's field-ownership recording on an
update of one pod, from its cached copy, must leave every other pod as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kprov.cluster.api.patch import managed_fields as mf
from kprov.cluster.api.resources import TABLE
from kprov.cluster.storage.shared_tries import SharedTries
from kprov.cluster.storage.watch_cache import WatchCache
from tests.unit.apiserver.watch_events import KV, RawEvent

PODS = next(i for i in TABLE if i.group == "" and i.resource == "pods")


class _JsonCodec:
    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        obj = orjson.loads(value)
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj  # type: ignore[no-any-return]


def _pod(name: str, ip: str) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "pause"}], "nodeName": "n1"},
    }
    mf.record_update(PODS, None, pod, "creator", now="t1")
    running = {**pod, "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}
    mf.record_update(PODS, pod, running, "kubelet", now="t2", subresource="status")
    return running


def _trie(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    return next(e["fieldsV1"] for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def test_equal_tries_are_one_copy_adopted_or_decoded() -> None:
    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2])  # type: ignore[arg-type]
    pods = [_pod(f"p{n}", f"10.0.0.{n}") for n in range(4)]
    originals = [orjson.dumps(p) for p in pods]
    for n, pod in enumerate(pods):
        key = f"/registry/pods/ns/p{n}"
        if n % 2:
            cache.adopt(key, n + 1, {**pod, "metadata": {**pod["metadata"], "resourceVersion": str(n + 1)}})
        cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(pod), n + 1, 1)))
    cached = [cache.get(f"/registry/pods/ns/p{n}") for n in range(4)]
    assert all(c is not None for c in cached)
    for n, c in enumerate(cached):
        assert c is not None
        expected = orjson.loads(originals[n])
        expected["metadata"]["resourceVersion"] = str(n + 1)
        assert c == expected, "sharing changed a value"
    first = cached[0]
    assert first is not None
    for other in cached[1:]:
        assert other is not None
        assert _trie(other, "creator") is _trie(first, "creator")  # identical tries: one copy
        mine, theirs = _trie(other, "kubelet")["f:status"], _trie(first, "kubelet")["f:status"]
        assert mine["f:podIPs"] is not theirs["f:podIPs"]  # each pod's own IP element
        assert mine["f:podIPs"] != theirs["f:podIPs"]


def test_recording_an_update_from_a_cached_pod_leaves_the_others_as_they_were() -> None:
    cache = WatchCache(None, _JsonCodec(), lambda key: key.split("/")[2])  # type: ignore[arg-type]
    for n in range(3):
        key = f"/registry/pods/ns/p{n}"
        cache._apply(RawEvent(0, KV(key.encode(), orjson.dumps(_pod(f"p{n}", f"10.0.0.{n}")), n + 1, 1)))
    before = {n: copy.deepcopy(cache.get(f"/registry/pods/ns/p{n}")) for n in range(3)}
    old = cache.get("/registry/pods/ns/p0")
    assert old is not None
    for manager, subresource, change in (
        ("kubelet", "status", {"status": {**old["status"], "phase": "Succeeded", "podIPs": []}}),
        ("creator", "", {"metadata": {**old["metadata"], "labels": {"app": "b", "new": "x"}}}),
        ("editor", "", {"spec": {**old["spec"], "containers": [{"name": "c", "image": "other"}]}}),
    ):
        new = {**old, "metadata": dict(old["metadata"]), **change}  # (a request body: its own dicts)
        mf.record_update(PODS, old, new, manager, now="t9", subresource=subresource)
    for n in range(3):
        assert cache.get(f"/registry/pods/ns/p{n}") == before[n]


def test_the_table_is_bounded() -> None:
    tries = SharedTries(capacity=8)
    for n in range(50):
        tries.share(_pod(f"p{n}", f"10.0.{n}.1"))
    assert len(tries._known) <= 8
