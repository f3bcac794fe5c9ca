"""One etcd watch stream read message by message, keeping what aetcd's watcher drops.

Each etcd WatchResponse carries a header revision; a progress notification carries no
events, only that revision. aetcd's callback watcher discards headers and empty responses, so
this module talks to the Watch RPC through aetcd's stub on aetcd's channel directly. (The
watch cache does not ask for progress on demand: etcd before 3.4.31 / 3.5.13 may answer
such a request ahead of events still queued; see watch_cache.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd import rpc

from kprov.cluster.storage.errors import RevisionExpiredError, StorageUnavailableError
from kprov.cluster.storage.etcd import EtcdKV, prefix_end

__all__ = ["WatchBatch", "EtcdWatchStream"]


@dataclass(frozen=True)
class WatchBatch:
    revision: int  # every change up to this revision has been delivered
    events: Sequence[Any]  # mvccpb.Event messages (type PUT=0 / DELETE=1, kv)


class EtcdWatchStream:
    """A watch on a key prefix from a start revision; iterate to receive batches."""

    def __init__(self, kv: EtcdKV, prefix: bytes, start_revision: int) -> None:
        self._kv = kv
        self._prefix = prefix
        self._start_revision = start_revision
        self._call: Any = None

    async def _open(self) -> None:
        stub = rpc.WatchStub(self._kv.channel)
        self._call = stub.Watch()
        create = rpc.WatchCreateRequest(
            key=self._prefix,
            range_end=prefix_end(self._prefix),
            start_revision=self._start_revision,
            # No prev_kv: the cache keeps the previous state itself, and etcd would read each
            # event's previous value from its backend and send it along for nothing.
            progress_notify=True,
        )
        await self._call.write(rpc.WatchRequest(create_request=create))

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()

    async def batches(self) -> AsyncIterator[WatchBatch]:
        await self._open()
        try:
            while True:
                try:
                    response = await self._call.read()
                except grpc.aio.AioRpcError as exc:
                    raise StorageUnavailableError(f"etcd watch: {exc.code().name}: {exc.details()}") from exc
                if response is grpc.aio.EOF:
                    raise StorageUnavailableError("etcd watch: stream ended")
                if response.compact_revision:
                    raise RevisionExpiredError(self._start_revision, int(response.compact_revision))
                if response.canceled:
                    raise StorageUnavailableError(f"etcd watch canceled: {response.cancel_reason}")
                if response.created and not response.events:
                    continue
                if response.events:
                    # A batch's header may be newer than its events; only the events count.
                    yield WatchBatch(int(response.events[-1].kv.mod_revision), response.events)
                else:
                    yield WatchBatch(int(response.header.revision), ())
        finally:
            self.cancel()
