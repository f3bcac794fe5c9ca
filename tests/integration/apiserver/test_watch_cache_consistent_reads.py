"""A consistent read waits until the watch cache holds etcd's /registry/ at the current
revision. Revisions written outside /registry/ carry no event, so the cache asks etcd whether
anything under /registry/ changed in between; a change whose event has not arrived yet must
never count as "nothing changed" (etcd 3.4.23's progress reports could be ahead of events
still queued, which is why the cache does not rely on them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from kprov.cluster.storage import Codec, EtcdConfig, EtcdKV, WatchCache


@pytest.fixture
async def kv(control_plane) -> AsyncIterator[EtcdKV]:  # type: ignore[no-untyped-def]
    client = EtcdKV(EtcdConfig([control_plane.etcd_url]))
    await client.connect()
    yield client
    await client.close()


def _cache(kv: EtcdKV) -> WatchCache:
    return WatchCache(kv, Codec(), lambda key: key[: key.rfind("/") + 1])


async def _revision_outside_the_registry(kv: EtcdKV) -> int:
    key = f"/consistency-test-outside/{uuid.uuid4().hex}".encode()
    await kv.client.put(key, b"x")
    return int((await kv.range(key)).kvs[0].mod_revision)


async def test_wait_for_reaches_a_revision_written_outside_the_registry(kv: EtcdKV) -> None:
    """After creates, updates and deletes whose events the cache has applied (its count of
    keys must follow them), a revision written elsewhere is reached without any event."""
    prefix = f"/registry/consistency-test/{uuid.uuid4().hex}/"
    cache = _cache(kv)
    await cache.start()
    try:
        for name in ("a", "b", "c"):
            await kv.client.put(f"{prefix}{name}".encode(), b"{}")
        await kv.client.put(f"{prefix}a".encode(), b'{"v":2}')
        await kv.client.delete(f"{prefix}b".encode())
        last = int((await kv.range(f"{prefix}a".encode())).kvs[0].mod_revision) + 1  # the delete
        assert await cache.wait_for(last, timeout=5.0)  # by the events
        revision = await _revision_outside_the_registry(kv)
        assert await cache.wait_for(revision, timeout=5.0)
        assert cache.revision >= revision
    finally:
        await cache.stop()
        await kv.client.delete_prefix(prefix.encode())


@pytest.mark.parametrize("change", ["create", "update", "delete"])
async def test_a_registry_change_whose_event_has_not_arrived_is_waited_for(kv: EtcdKV, change: str) -> None:
    """The cache as loaded, its event stream not started: every later event is "still
    queued". A later revision outside /registry/ must not let it claim to be current."""
    prefix = f"/registry/consistency-test/{uuid.uuid4().hex}/"
    existing = f"{prefix}existing".encode()
    await kv.client.put(existing, b'{"metadata":{"name":"existing"}}')
    cache = _cache(kv)
    await cache._load()  # no stream: events after the load never arrive
    try:
        if change == "create":
            await kv.client.put(f"{prefix}new".encode(), b'{"metadata":{"name":"new"}}')
        elif change == "update":
            await kv.client.put(existing, b'{"metadata":{"name":"existing"},"v":2}')
        else:
            await kv.client.delete(existing)
        revision = await _revision_outside_the_registry(kv)
        assert not await cache.wait_for(revision, timeout=0.5)
        assert cache.revision < revision
    finally:
        await kv.client.delete_prefix(prefix.encode())
