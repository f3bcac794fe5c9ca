"""Group commit against real etcd: concurrent writes share transactions, yet each write
keeps its own compare-and-swap outcome."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from kprov.cluster.storage import (
    Codec,
    EtcdConfig,
    EtcdKV,
    KeyExistsError,
    RevisionConflictError,
    Store,
)


async def _store(etcd_url: str) -> Store:
    kv = EtcdKV(EtcdConfig([etcd_url]))
    await kv.connect()
    return Store(kv, Codec())


async def test_concurrent_creates_are_batched_and_each_is_stored(control_plane) -> None:  # type: ignore[no-untyped-def]
    store = await _store(control_plane.etcd_url)
    prefix = f"/registry/gc-test/{uuid.uuid4().hex}/"
    try:
        objects = {f"{prefix}o{i:03d}": {"metadata": {"name": f"o{i:03d}"}, "i": i} for i in range(300)}
        results = await asyncio.gather(*(store.create(key, obj) for key, obj in objects.items()))
        assert store.writes.batches < store.writes.writes == 300  # writes really travelled together
        page = await store.list(prefix)
        assert [item.obj["i"] for item in page.items] == list(range(300))
        for result in results:  # what each caller got back is what etcd stored
            stored = await store.get(result.key)
            assert stored is not None and stored.revision == result.revision
            assert result.obj["metadata"]["resourceVersion"] == str(result.revision)
    finally:
        await store.kv.client.delete_prefix(prefix.encode())
        await store.kv.close()


async def test_each_write_in_a_batch_keeps_its_own_outcome(control_plane) -> None:  # type: ignore[no-untyped-def]
    store = await _store(control_plane.etcd_url)
    prefix = f"/registry/gc-test/{uuid.uuid4().hex}/"
    try:
        first = await store.create(f"{prefix}taken", {"v": 1})
        fresh = [store.create(f"{prefix}f{i}", {"v": i}) for i in range(20)]
        outcomes = await asyncio.gather(
            store.create(f"{prefix}taken", {"v": 2}),  # exists: must fail alone
            store.update(f"{prefix}taken", {"v": 3}, first.revision - 1),  # stale: conflict
            store.create(f"{prefix}twice", {"v": "a"}),  # the same key twice in one burst:
            store.create(f"{prefix}twice", {"v": "b"}),  # exactly one wins
            *fresh,
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], KeyExistsError)
        assert isinstance(outcomes[1], RevisionConflictError)
        assert sorted(type(o).__name__ for o in outcomes[2:4]) == ["KeyExistsError", "StoredObject"]
        assert not [o for o in outcomes[4:] if isinstance(o, BaseException)]
        taken = await store.get(f"{prefix}taken")
        assert taken is not None and taken.obj["v"] == 1 and taken.revision == first.revision
    finally:
        await store.kv.client.delete_prefix(prefix.encode())
        await store.kv.close()


@pytest.mark.parametrize("size", [300_000])
async def test_large_writes_are_split_to_stay_under_etcds_request_limit(control_plane, size: int) -> None:  # type: ignore[no-untyped-def]
    store = await _store(control_plane.etcd_url)
    prefix = f"/registry/gc-test/{uuid.uuid4().hex}/"
    try:
        # ten 300 kB objects at once: together over etcd's 1.5 MiB request limit
        await asyncio.gather(*(store.create(f"{prefix}big{i}", {"data": "x" * size}) for i in range(10)))
        assert store.writes.batches >= 3
        page = await store.list(prefix)
        assert len(page.items) == 10
    finally:
        await store.kv.client.delete_prefix(prefix.encode())
        await store.kv.close()
