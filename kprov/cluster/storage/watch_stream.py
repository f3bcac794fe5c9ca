"""One etcd watch stream read message by message, keeping what aetcd's watcher drops.

Each etcd WatchResponse carries a header revision; a progress notification carries no
events, only that revision. aetcd's callback watcher discards headers and empty responses, so
this module talks to the Watch RPC through aetcd's stub on aetcd's channel directly. (The
watch cache does not ask for progress on demand: etcd before 3.4.31 / 3.5.13 may answer
such a request ahead of events still queued; see watch_cache.) When the stream's member stops
serving, the stream resumes on the next member from the last revision delivered.
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
from kprov.cluster.storage.etcd import EtcdKV, prefix_end
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
        self._read: asyncio.Future[Any] | None = None
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
        if self._read is not None:
            self._read.cancel()
            self._read = None
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

    async def _next(self, index: int) -> Any:
        """The stream's next response; raises :class:`_Resume` when the member stopped serving,
        or when the stream stays behind a revision the client's calls have seen (a stream
        stuck while its member answers other calls: reopening it costs one request)."""
        every = self._kv.config.health.probe_after_s
        behind = False
        while True:
            if self._read is None:
                self._read = asyncio.ensure_future(self._call.read())
            done, _ = await asyncio.wait((self._read,), timeout=every)
            if not done and self._kv.revision_seen >= self._start_revision:
                if behind:  # a whole period behind with nothing delivered
                    raise _Resume(f"silent at revision {self._start_revision - 1} while etcd is at "
                                  f"{self._kv.revision_seen} or later")
                behind = True
            elif not done:
                behind = False
            if done:
                read, self._read = self._read, None
                try:
                    return read.result()
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE:
                        raise StorageUnavailableError(
                            f"etcd watch: {exc.code().name}: {exc.details()}"
                        ) from exc
                    await self._kv.move_on(index, f"watch unavailable ({exc.details()})")
                    raise _Resume(f"UNAVAILABLE: {exc.details()}") from exc
            if self._kv.current != index:
                raise _Resume(f"the client moved to {self._kv.server}")
            if not await self._kv.serves(index):  # free while the member answers other calls
                raise _Resume("its member failed the health probe")

    async def _follow(self, index: int) -> AsyncIterator[WatchBatch]:
        while True:
            response = await self._next(index)
            if response is grpc.aio.EOF:
                raise StorageUnavailableError("etcd watch: stream ended")
            self._kv.health.answered(index)
            if response.compact_revision:
                raise RevisionExpiredError(self._start_revision, int(response.compact_revision))
            if response.canceled:
                raise StorageUnavailableError(f"etcd watch canceled: {response.cancel_reason}")
            if response.created and not response.events:
                continue
            if response.events:
                # A batch's header may be newer than its events; only the events count.
                batch = WatchBatch(int(response.events[-1].kv.mod_revision), response.events)
            else:
                batch = WatchBatch(int(response.header.revision), ())
            self._start_revision = max(self._start_revision, batch.revision + 1)
            yield batch
