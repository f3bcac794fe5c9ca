"""A consistent read's wait for the watch cache: a cache that lags but advances is waited for
(up to the caller's bound), one that stalls is given up on after ``timeout``; while events
keep arriving, etcd is not asked whether the revision was written elsewhere."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kprov.cluster.storage.watch_cache import WatchCache


@dataclass
class _Range:
    kvs: list[object]
    count: int = 0


class _ChangedEtcd:
    """Every "unchanged since?" question answered: something changed (events are coming)."""

    def __init__(self) -> None:
        self.asked = 0

    async def range(self, *args: object, **kwargs: object) -> _Range:
        self.asked += 1
        return _Range(kvs=[object()])


def _cache(etcd: _ChangedEtcd) -> WatchCache:
    cache = WatchCache(etcd, None, lambda key: key)  # type: ignore[arg-type]
    cache.revision = 100
    return cache


async def _advance(cache: WatchCache, steps: int, every_s: float) -> None:
    for _ in range(steps):
        await asyncio.sleep(every_s)
        cache.revision += 1
        async with cache._advanced:
            cache._advanced.notify_all()


def test_a_lagging_cache_that_advances_is_waited_for_past_the_timeout() -> None:
    async def scenario() -> tuple[bool, float, int]:
        etcd = _ChangedEtcd()
        cache = _cache(etcd)
        mover = asyncio.create_task(_advance(cache, 6, 0.2))  # reaches 106 after 1.2 s
        began = asyncio.get_running_loop().time()
        fresh = await cache.wait_for(106, timeout=0.5, while_advancing_s=5.0)
        took = asyncio.get_running_loop().time() - began
        await mover
        return fresh, took, etcd.asked

    fresh, took, asked = asyncio.run(scenario())
    assert fresh and 1.0 <= took < 3.0
    assert asked <= 8  # (each advance holds the etcd check off; the old loop asked every 25 ms: ~40)


def test_without_patience_the_same_lag_gives_up_at_the_timeout() -> None:
    async def scenario() -> tuple[bool, float]:
        cache = _cache(_ChangedEtcd())
        mover = asyncio.create_task(_advance(cache, 6, 0.2))
        began = asyncio.get_running_loop().time()
        fresh = await cache.wait_for(106, timeout=0.5)
        took = asyncio.get_running_loop().time() - began
        await mover
        return fresh, took

    fresh, took = asyncio.run(scenario())
    assert not fresh and 0.45 <= took < 1.0


def test_a_cache_that_stops_advancing_is_given_up_on_after_the_timeout() -> None:
    async def scenario() -> tuple[bool, float]:
        cache = _cache(_ChangedEtcd())
        mover = asyncio.create_task(_advance(cache, 2, 0.1))  # then nothing
        began = asyncio.get_running_loop().time()
        fresh = await cache.wait_for(150, timeout=0.5, while_advancing_s=10.0)
        took = asyncio.get_running_loop().time() - began
        await mover
        return fresh, took

    fresh, took = asyncio.run(scenario())
    assert not fresh and 0.6 <= took < 2.0  # (0.2 s of advances, then 0.5 s stalled)


def test_patience_has_a_bound_even_while_the_cache_advances() -> None:
    async def scenario() -> tuple[bool, float]:
        cache = _cache(_ChangedEtcd())
        mover = asyncio.create_task(_advance(cache, 30, 0.1))  # never reaches 500
        began = asyncio.get_running_loop().time()
        fresh = await cache.wait_for(500, timeout=0.5, while_advancing_s=1.0)
        took = asyncio.get_running_loop().time() - began
        mover.cancel()
        return fresh, took

    fresh, took = asyncio.run(scenario())
    assert not fresh and 0.95 <= took < 1.6
