"""The etcd client's failover logic with fake members (the real thing, against a 3-member etcd
with one member SIGSTOPped: tests/integration/test_etcd_failover.py).

A member that answers nothing is probed after ``probe_after_s`` and left when the probe fails:
a read is retried on the next member, a write in flight fails as a timeout (its outcome is
unknown) and is never sent twice; a write refused for want of a leader is retried; a healthy
member is never probed; the watch resumes on the next member after the last revision seen.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from aetcd import rpc

from kprov.cluster.storage import (
    EtcdConfig,
    EtcdKV,
    StorageTimeoutError,
    StorageUnavailableError,
    watch_stream,
)
from kprov.cluster.storage.member_health import REQUIRE_LEADER, HealthPolicy, MemberHealth

FAST = HealthPolicy(probe_after_s=0.05, probe_timeout_s=0.05, hold_s=5.0)


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class _Member:
    """A fake member: ``mode`` "ok" answers, "stalled" never answers, "no-leader" refuses."""

    def __init__(self, name: str, mode: str = "ok") -> None:
        self.name = name
        self.mode = mode
        self.calls: list[tuple[str, Any]] = []  # (what, request)
        self.probes = 0
        self.metadata: list[Any] = []
        self.channel = self  # what channel_of() hands the watch
        self.kvstub = self

    async def _answer(self, request: Any) -> Any:
        if self.mode == "stalled":
            await asyncio.Event().wait()
        if self.mode == "no-leader":
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
        return rpc.RangeResponse(header=rpc.ResponseHeader(revision=7), count=1)

    def Range(self, request: Any, timeout: float, metadata: Any) -> asyncio.Task[Any]:  # noqa: N802
        self.metadata.append(metadata)
        if request.key == b"health":
            self.probes += 1
        else:
            self.calls.append(("range", request))
        return asyncio.ensure_future(self._answer(request))

    def Put(self, request: Any, timeout: float, metadata: Any) -> asyncio.Task[Any]:  # noqa: N802
        self.metadata.append(metadata)
        self.calls.append(("put", request))
        return asyncio.ensure_future(self._answer(request))

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _kv(*members: _Member, policy: HealthPolicy = FAST) -> EtcdKV:
    kv = EtcdKV(EtcdConfig([f"http://{m.name}:2379" for m in members], timeout_s=5.0, health=policy))
    kv._clients = list(members)  # type: ignore[assignment]
    return kv


async def test_a_read_on_a_member_that_answers_nothing_moves_to_the_next() -> None:
    stalled, healthy = _Member("a", "stalled"), _Member("b")
    kv = _kv(stalled, healthy)
    result = await asyncio.wait_for(kv.range(b"/registry/x"), 2)
    assert result.revision == 7
    assert stalled.probes == 1 and kv.current == 1
    assert [what for what, _ in healthy.calls] == ["range"]
    assert all(m == REQUIRE_LEADER for m in stalled.metadata + healthy.metadata)


async def test_a_write_in_flight_on_a_stalled_member_times_out_and_is_never_sent_twice() -> None:
    stalled, healthy = _Member("a", "stalled"), _Member("b")
    kv = _kv(stalled, healthy)
    with pytest.raises(StorageTimeoutError, match="may or may not have been applied"):
        await asyncio.wait_for(kv.put(b"/registry/x", b"v"), 2)
    assert healthy.calls == []  # the next write goes there, this one does not
    assert kv.current == 1
    assert await kv.put(b"/registry/y", b"v") == 7


async def test_a_write_refused_for_want_of_a_leader_is_retried_on_the_next_member() -> None:
    leaderless, healthy = _Member("a", "no-leader"), _Member("b")
    kv = _kv(leaderless, healthy)
    assert await kv.put(b"/registry/x", b"v") == 7
    assert [what for what, _ in healthy.calls] == ["put"]
    assert leaderless.probes == 0  # the refusal itself says enough


async def test_during_an_election_writes_go_to_the_members_that_refuse_not_back_to_the_silent_one() -> None:
    """The leader stops: the write on it times out; the live members refuse for want of a
    leader until one is elected; the stopped leader, held for its failed probe, is not tried
    again meanwhile (each try on it costs a whole probe)."""
    stopped, first, second = _Member("a", "stalled"), _Member("b", "no-leader"), _Member("c", "no-leader")
    kv = _kv(stopped, first, second)
    with pytest.raises(StorageTimeoutError):
        await asyncio.wait_for(kv.put(b"/registry/x", b"v"), 2)
    with pytest.raises(StorageUnavailableError, match="no leader"):
        await asyncio.wait_for(kv.put(b"/registry/y", b"v"), 2)
    assert len(stopped.calls) == 1 and stopped.probes == 1
    assert [len(first.calls), len(second.calls)] == [2, 1]
    first.mode = "ok"  # elected
    assert await asyncio.wait_for(kv.put(b"/registry/z", b"v"), 2) == 7
    assert len(stopped.calls) == 1


async def test_a_write_that_may_have_been_applied_is_not_retried() -> None:
    timed_out, healthy = _Member("a"), _Member("b")

    async def raise_timeout(request: Any) -> Any:
        raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out")

    timed_out._answer = raise_timeout  # type: ignore[method-assign]
    kv = _kv(timed_out, healthy)
    with pytest.raises(StorageUnavailableError, match="request timed out"):
        await kv.put(b"/registry/x", b"v")
    assert healthy.calls == [] and kv.current == 1


async def test_a_healthy_member_is_never_probed() -> None:
    member = _Member("a")
    slow = HealthPolicy(probe_after_s=0.01, probe_timeout_s=1.0)
    kv = _kv(member, _Member("b"), policy=slow)
    for _ in range(20):
        await kv.range(b"/registry/x")
    assert member.probes == 0 and kv.current == 0


async def test_when_every_member_is_stalled_a_read_fails_after_trying_each() -> None:
    members = [_Member(n, "stalled") for n in "abc"]
    kv = _kv(*members)
    with pytest.raises(StorageTimeoutError):
        await asyncio.wait_for(kv.range(b"/registry/x"), 3)
    assert [len(m.calls) for m in members] == [1, 1, 1]


async def test_concurrent_callers_share_one_probe_and_a_recent_answer_skips_it() -> None:
    now = [100.0]
    health = MemberHealth(3, HealthPolicy(probe_after_s=1.0, probe_timeout_s=1.0), clock=lambda: now[0])
    probes = []

    async def probe(deadline: float) -> None:
        probes.append(deadline)
        await asyncio.sleep(0.01)
        raise TimeoutError

    results = await asyncio.gather(*(health.serves(0, probe) for _ in range(5)))
    assert results == [False] * 5 and len(probes) == 1
    assert health.held(0) and health.next_member(2) == 1  # 0 held: tried last
    health.answered(1)
    assert await health.serves(1, probe) is True and len(probes) == 1
    now[0] += 6.0  # the hold is over
    assert not health.held(0) and health.next_member(2) == 0


class _WatchCall:
    """A fake Watch stream: answers ``created``, then the events from the requested start
    revision up to ``last``; then ``stall`` (never answers) or stays quiet but alive."""

    def __init__(self, member: _Member, history: list[int], stall_after: int | None) -> None:
        self.member = member
        self.history = history
        self.stall_after = stall_after
        self.start: int | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancelled = False

    async def write(self, request: Any) -> None:
        self.start = int(request.create_request.start_revision)
        await self.queue.put(rpc.WatchResponse(created=True))
        for revision in self.history:
            if revision >= self.start and (self.stall_after is None or revision <= self.stall_after):
                kv = rpc.KeyValue(key=b"/registry/k%d" % revision, mod_revision=revision)
                await self.queue.put(rpc.WatchResponse(events=[rpc.Event(kv=kv)]))

    async def read(self) -> Any:
        return await self.queue.get()

    def cancel(self) -> None:
        self.cancelled = True


async def test_the_watch_resumes_on_the_next_member_after_the_last_revision(monkeypatch: Any) -> None:
    stalled, healthy = _Member("a"), _Member("b")
    history = [2, 3, 4, 5, 6]
    calls: dict[str, list[_WatchCall]] = {"a": [], "b": []}

    class Stub:
        def __init__(self, channel: _Member) -> None:
            self.member = channel

        def Watch(self, metadata: Any) -> _WatchCall:  # noqa: N802
            assert metadata == REQUIRE_LEADER
            call = _WatchCall(self.member, history, 4 if self.member.name == "a" else None)
            calls[self.member.name].append(call)
            return call

    monkeypatch.setattr(watch_stream.rpc, "WatchStub", Stub)
    kv = _kv(stalled, healthy)
    stream = watch_stream.EtcdWatchStream(kv, b"/registry/", 2)
    seen: list[int] = []

    async def consume() -> None:
        async for batch in stream.batches():
            seen.extend(int(e.kv.mod_revision) for e in batch.events)
            if seen and seen[-1] == 6:
                return

    async def stall_a() -> None:  # once member a has sent up to 4 it stops answering
        while seen[-1:] != [4]:
            await asyncio.sleep(0.01)
        stalled.mode = "stalled"

    await asyncio.wait_for(asyncio.gather(consume(), stall_a()), 3)
    assert seen == [2, 3, 4, 5, 6]  # nothing missed, nothing twice
    assert [c.start for c in calls["b"]] == [5] and stream.resumed == 1
    assert calls["a"][0].cancelled and kv.current == 1


async def test_a_watch_refused_for_want_of_a_leader_holds_its_member_as_alive(monkeypatch: Any) -> None:
    """etcd cancels a watch whose member has had no leader for a while; the member answered, so
    it is held but not counted silent (the stopped one, if any, stays the last resort)."""
    first, second = _Member("a"), _Member("b")

    class Refusing(_WatchCall):
        async def read(self) -> Any:
            if self.member.name == "a":
                raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
            return await super().read()

    class Stub:
        def __init__(self, channel: _Member) -> None:
            self.member = channel

        def Watch(self, metadata: Any) -> _WatchCall:  # noqa: N802
            return Refusing(self.member, [3], None)

    monkeypatch.setattr(watch_stream.rpc, "WatchStub", Stub)
    kv = _kv(first, second)
    stream = watch_stream.EtcdWatchStream(kv, b"/registry/", 3)
    seen: list[int] = []
    async for batch in stream.batches():
        seen.extend(int(e.kv.mod_revision) for e in batch.events)
        if seen:
            break
    assert seen == [3] and kv.current == 1
    assert kv.health.held(0) and not kv.health.silent(0)


async def test_a_stream_stuck_behind_what_the_client_has_seen_is_reopened(monkeypatch: Any) -> None:
    member = _Member("a")
    opened: list[_WatchCall] = []

    class Stub:
        def __init__(self, channel: _Member) -> None:
            self.member = channel

        def Watch(self, metadata: Any) -> _WatchCall:  # noqa: N802
            # the first stream is stuck (delivers nothing), the second has the events
            call = _WatchCall(self.member, [] if not opened else [3, 4], None)
            opened.append(call)
            return call

    monkeypatch.setattr(watch_stream.rpc, "WatchStub", Stub)
    kv = _kv(member, _Member("b"))
    stream = watch_stream.EtcdWatchStream(kv, b"/registry/", 3)
    seen: list[int] = []

    async def consume() -> None:
        async for batch in stream.batches():
            seen.extend(int(e.kv.mod_revision) for e in batch.events)
            if seen[-1:] == [4]:
                return

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.3)  # the stuck stream alone: nothing behind, nothing reopened
    assert len(opened) == 1 and seen == []
    await kv.range(b"/registry/x")  # the client sees revision 7: the stream is behind
    await asyncio.wait_for(consumer, 2)
    assert seen == [3, 4] and [c.start for c in opened] == [3, 3]
    assert kv.current == 0  # the member itself answers: the client stays on it
