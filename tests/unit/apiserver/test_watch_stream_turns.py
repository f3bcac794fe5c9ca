"""The watch stream's cost in event-loop turns, and its cancellation.

On a saturated API server every loop turn runs each ready request first, so the watch
cache's ingestion rate is what a response costs in turns. The stream reads in the consuming
task (a read task awaited through ``asyncio.wait`` took about five turns a response; now
two: the completion's callback and the wake-up). Its silence is judged by a watchdog timer
that may cancel the read it gives up on; a cancellation of the consumer's own must still end
the iteration as a cancellation, not as a resume.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aetcd import rpc

from kprov.cluster.storage import EtcdConfig, EtcdKV, watch_stream
from kprov.cluster.storage.member_health import HealthPolicy

_RESPONSES = 200


class _Call:
    """A Watch stream that answers each read as gRPC's poller does: a callback on the loop
    completes the read's future (``count`` responses, then silence)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.revision = 1
        self.cancelled = False

    async def write(self, request: Any) -> None:
        return None

    async def read(self) -> Any:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        if self.left > 0:
            self.left -= 1
            self.revision += 1
            kv = rpc.KeyValue(key=b"/registry/k", mod_revision=self.revision)
            loop.call_soon(done.set_result, rpc.WatchResponse(events=[rpc.Event(kv=kv)]))
        return await done  # (silence: never answers)

    def cancel(self) -> None:
        self.cancelled = True


def _stream(monkeypatch: Any, call: _Call) -> watch_stream.EtcdWatchStream:
    class Stub:
        def __init__(self, channel: Any) -> None:
            pass

        def Watch(self, metadata: Any) -> _Call:  # noqa: N802
            return call

    monkeypatch.setattr(watch_stream.rpc, "WatchStub", Stub)
    kv = EtcdKV(EtcdConfig(["http://127.0.0.1:1"], health=HealthPolicy(probe_after_s=30.0)))
    kv._clients[0].channel = object()  # type: ignore[attr-defined]  # (never used: Stub)
    return watch_stream.EtcdWatchStream(kv, b"/registry/", 2)


async def test_a_response_costs_two_loop_turns(monkeypatch: Any) -> None:
    stream = _stream(monkeypatch, _Call(_RESPONSES))
    turns = 0
    finished = False

    async def ticker() -> None:  # one step a loop turn: counts the turns
        nonlocal turns
        while not finished:
            turns += 1
            await asyncio.sleep(0)

    async def consume() -> int:
        nonlocal finished
        got = 0
        async for batch in stream.batches():
            got += len(batch.events)
            if got == _RESPONSES:
                break
        finished = True
        return got

    tick = asyncio.ensure_future(ticker())
    assert await consume() == _RESPONSES
    await tick
    assert turns <= 2.2 * _RESPONSES, turns  # (a read task with asyncio.wait: ~5 a response)


async def test_cancelling_the_consumer_during_a_read_cancels_it(monkeypatch: Any) -> None:
    call = _Call(1)
    stream = _stream(monkeypatch, call)
    seen: list[int] = []

    async def consume() -> None:
        async for batch in stream.batches():
            seen.extend(int(e.kv.mod_revision) for e in batch.events)

    task = asyncio.ensure_future(consume())
    while not seen:
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)  # now waiting on a read that never answers
    task.cancel()
    done, _ = await asyncio.wait((task,), timeout=1)
    assert done and task.cancelled()  # a cancellation, not a resume
    assert stream.resumed == 0 and call.cancelled and seen == [2]
