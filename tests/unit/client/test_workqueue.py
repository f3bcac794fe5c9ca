from __future__ import annotations

import asyncio

import pytest

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.runner import run_workers
from kprov.cluster.client.workqueue import QueueShutDown, WorkQueue


async def test_duplicate_adds_are_folded() -> None:
    q = WorkQueue()
    for key in ["a", "b", "a", "a"]:
        q.add(key)
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_re_add_while_processing_is_deferred_until_done() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")
    assert len(q) == 0  # not handed out while processing
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    q = WorkQueue(base_delay=0.01, max_delay=0.04)
    delays = []
    for _ in range(4):
        delays.append(q.backoff("k"))
        q.add_rate_limited("k")
    assert delays == [0.01, 0.02, 0.04, 0.04]
    assert q.num_requeues("k") == 4
    assert await asyncio.wait_for(q.get(), 1) == "k"
    q.forget("k")
    assert q.backoff("k") == 0.01


async def test_shutdown_wakes_waiting_workers() -> None:
    q = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiter, 1)


async def test_workers_never_process_one_key_concurrently_and_retry_failures() -> None:
    q = WorkQueue(base_delay=0.001)
    active: set[str] = set()
    overlap = []
    calls: dict[str, int] = {}

    async def reconcile(key: object) -> float | None:
        k = str(key)
        if k in active:
            overlap.append(k)
        active.add(k)
        calls[k] = calls.get(k, 0) + 1
        await asyncio.sleep(0.005)
        q.add(k) if calls[k] == 1 else None  # re-add while processing
        active.discard(k)
        if k == "flaky" and calls[k] < 3:
            raise ApiError(500, "InternalError", "boom")
        return None

    for key in ["a", "b", "flaky"]:
        q.add(key)
    runner = asyncio.create_task(run_workers("t", q, reconcile, workers=4))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if calls.get("flaky", 0) >= 3 and len(q) == 0 and not q.processing:
            break
    q.shutdown()
    await asyncio.wait_for(runner, 2)
    assert overlap == []
    assert calls["a"] == 2 and calls["b"] == 2  # the deferred re-add ran once more
    assert calls["flaky"] >= 3 and q.num_requeues("flaky") == 0
