"""One etcd watch stream read message by message, keeping what aetcd's watcher drops.

Each etcd WatchResponse carries a header revision; a progress notification carries no
events, only that revision. aetcd's callback watcher discards headers and empty responses, so
this module talks to the Watch RPC through aetcd's stub on aetcd's channel directly. (The
watch cache does not ask for progress on demand: etcd before 3.4.31 / 3.5.13 may answer
such a request ahead of events still queued; see watch_cache.) When the stream's member stops
serving, the stream resumes on the next member from the last revision delivered.

Responses are read in the consuming task (the watch cache's), two event-loop turns each;
a read in a task of its own awaited through ``asyncio.wait`` (for a timeout) took five, and
on a saturated API server each turn waits for every ready request: the cache's ingestion
rate. etcd sends a watcher that keeps up one response per revision, so under load that rate
is the cache's lag (docs/decisions/0011, round 5). Silence is judged by a watchdog timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd import rpc

from kprov.cluster.storage.errors import RevisionExpiredError, StorageUnavailableError
from kprov.cluster.storage.etcd import EtcdKV, leaderless, prefix_end
from kprov.cluster.storage.member_health import REQUIRE_LEADER

__all__ = ["WatchBatch", "EtcdWatchStream"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchBatch:
    revision: int  # every change up to this revision has been delivered
    events: Sequence[Any]  # mvccpb.Event messages (type PUT=0 / DELETE=1, kv)


class _Resume(Exception):
    """The stream's member stopped serving; go on from the last revision on another one."""


class EtcdWatchStream:
    """A watch on a key prefix from a start revision; iterate to receive batches.

    The stream follows the client's member. When its member stops serving -- the stream fails
    UNAVAILABLE (etcd cancels a require-leader watch when its member has had no leader for
    three election timeouts), the client has moved to another member, or the stream stays
    silent past ``probe_after_s`` and its member fails the health probe -- it is opened again
    on the member in use from the revision after the last one delivered, as etcd's Go
    client resumes its watches: no event is missed or delivered twice. A compacted start
    revision ends the iteration with :class:`RevisionExpiredError` (the caller relists).
    """

    def __init__(self, kv: EtcdKV, prefix: bytes, start_revision: int) -> None:
        self._kv = kv
        self._prefix = prefix
        self._start_revision = start_revision
        self._call: Any = None
        self._reading = False  # a read of the stream is under way (the watchdog may cancel it)
        self.resumed = 0  # times the stream was opened again on another member

    async def _open(self, index: int) -> None:
        stub = rpc.WatchStub(self._kv.channel_of(index))
        self._call = stub.Watch(metadata=REQUIRE_LEADER)
        create = rpc.WatchCreateRequest(
            key=self._prefix,
            range_end=prefix_end(self._prefix),
            start_revision=self._start_revision,
            # No prev_kv: the cache keeps the previous state itself, and etcd would read each
            # event's previous value from its backend and send it along for nothing.
            progress_notify=True,
        )
        policy = self._kv.config.health
        try:  # a member that accepts TCP and answers nothing never takes the request
            await asyncio.wait_for(
                self._call.write(rpc.WatchRequest(create_request=create)),
                policy.probe_after_s + policy.probe_timeout_s,
            )
        except (grpc.aio.AioRpcError, TimeoutError) as exc:
            await self._kv.move_on(index, f"watch not opened ({exc!r})")
            raise _Resume(f"not opened on {self._kv.config.servers[index]}") from exc

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()

    async def batches(self) -> AsyncIterator[WatchBatch]:
        failing_since: float | None = None  # the first failure since the last response
        tries = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                index = self._kv.current
                try:
                    await self._open(index)
                    async for batch in self._follow(index):
                        failing_since, tries = None, 0
                        yield batch
                except _Resume as why:
                    # During an election every member refuses a while (no leader): try them in
                    # turn, a little slower each round, for as long as a request would wait.
                    failing_since = failing_since or loop.time()
                    if loop.time() - failing_since > self._kv.config.timeout_s:
                        raise StorageUnavailableError(f"etcd watch: {why}") from why
                    self.cancel()
                    self.resumed += 1
                    tries += 1
                    _log.info("etcd watch: %s; resuming from revision %d", why, self._start_revision)
                    await asyncio.sleep(min(0.05 * tries, 0.5))
        finally:
            self.cancel()

    async def _next(self, index: int, watchdog: _Watchdog) -> Any:
        """The stream's next response, read in the consuming task itself: a read in a task
        of its own, awaited through ``asyncio.wait`` for its timeout, cost three more
        event-loop turns per response (the task's start, its completion's callback, the
        wake-up), and on a saturated loop each turn waits for every ready request. Silence
        is the watchdog's to judge; when it gives the stream up it cancels this read."""
        self._reading = True
        try:
            response = await self._call.read()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if watchdog.why is None or task is None or task.uncancel() > 0:
                raise  # a cancellation of the task's own (its owner stops it)
            raise _Resume(watchdog.why) from None
        except grpc.aio.AioRpcError as exc:
            if watchdog.why is not None:
                raise _Resume(watchdog.why) from exc
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise StorageUnavailableError(f"etcd watch: {exc.code().name}: {exc.details()}") from exc
            why = f"watch unavailable ({exc.details()})"
            await self._kv.move_on(index, why, answered=leaderless(exc))
            raise _Resume(f"UNAVAILABLE: {exc.details()}") from exc
        finally:
            self._reading = False
        watchdog.heard()
        return response

    async def _follow(self, index: int) -> AsyncIterator[WatchBatch]:
        watchdog = _Watchdog(self, index)
        try:
            while True:
                if watchdog.why is not None:  # given up while the consumer was away
                    raise _Resume(watchdog.why)
                batch = self._batch(index, await self._next(index, watchdog))
                if batch is not None:
                    yield batch
        finally:
            watchdog.stop()

    def _batch(self, index: int, response: Any) -> WatchBatch | None:
        """The batch in ``response`` (None for the creation's empty answer)."""
        if response is grpc.aio.EOF:
            raise StorageUnavailableError("etcd watch: stream ended")
        self._kv.health.answered(index)
        if response.compact_revision:
            raise RevisionExpiredError(self._start_revision, int(response.compact_revision))
        if response.canceled:
            raise StorageUnavailableError(f"etcd watch canceled: {response.cancel_reason}")
        if response.created and not response.events:
            return None
        if response.events:
            # A batch's header may be newer than its events; only the events count.
            batch = WatchBatch(int(response.events[-1].kv.mod_revision), response.events)
        else:
            batch = WatchBatch(int(response.header.revision), ())
        self._start_revision = max(self._start_revision, batch.revision + 1)
        return batch


class _Watchdog:
    """Judges one opened stream's silence every ``probe_after_s`` with one timer (none per
    response): a period with no response and the client at a revision the stream has not
    delivered makes it "behind", a second such period gives the stream up (stuck while its
    member answers other calls); a silent period also gives it up when the client has moved
    to another member or the member fails its health probe. Giving up cancels the read under
    way (its task is the consumer's), which the read turns into :class:`_Resume`."""

    def __init__(self, stream: EtcdWatchStream, index: int) -> None:
        self._stream = stream
        self._index = index
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._every = stream._kv.config.health.probe_after_s
        self._heard = False  # a response came since the last look
        self._behind = False
        self._judging: asyncio.Task[None] | None = None
        self.why: str | None = None  # why the stream was given up
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(self._every, self._look)

    def heard(self) -> None:
        self._heard = True

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._judging is not None:
            self._judging.cancel()

    def _look(self) -> None:
        if self._handle is None:
            return
        if self._heard:
            self._heard, self._behind = False, False
            self._handle = self._loop.call_later(self._every, self._look)
        else:
            self._judging = asyncio.ensure_future(self._judge())

    async def _judge(self) -> None:
        kv, stream = self._stream._kv, self._stream
        why: str | None = None
        if kv.revision_seen >= stream._start_revision:
            if self._behind:  # a whole period behind with nothing delivered
                why = (f"silent at revision {stream._start_revision - 1} while etcd is at "
                       f"{kv.revision_seen} or later")
            self._behind = True
        else:
            self._behind = False
        if why is None and kv.current != self._index:
            why = f"the client moved to {kv.server}"
        if why is None and not await kv.serves(self._index):  # free while the member answers
            why = "its member failed the health probe"
        if self._handle is None:  # stopped meanwhile
            return
        if why is None:
            self._handle = self._loop.call_later(self._every, self._look)
            return
        self.why = why
        self._handle = None
        if stream._reading and self._task is not None:
            self._task.cancel()
