"""The object store: Kubernetes objects in etcd with compare-and-swap writes.

Every write is one etcd transaction guarded by a comparison (concurrent ones travel
together, see :mod:`.group_commit`), so concurrent API servers never overwrite each other:
create requires the key to be absent (``create_revision == 0``),
update and delete require the ``mod_revision`` the caller read. On a failed comparison the
same transaction reads the current value, which tells "gone" from "changed".

Reads either see the latest state or, for paged lists, one fixed revision: a page is a range
read at the list's first revision, starting after the previous page's last key.

Every object written is also reported to ``on_written`` (the watch cache adopts it, so its
own writes need no decoding when their events come back), and every etcd call's duration to
``on_etcd_request`` (operation, key, seconds) when set: the API server's
``etcd_request_duration_seconds``. The timing lives here, in the one coroutine of each call,
because a wrapping subclass added a coroutine frame that every resumption passes through,
which showed in an audited server's profile during pod creates (docs/decisions/0008).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from kprov.cluster.storage import txn_wire
from kprov.cluster.storage.codec import Codec
from kprov.cluster.storage.errors import KeyExistsError, KeyNotFoundError, RevisionConflictError
from kprov.cluster.storage.etcd import EtcdKV, prefix_end
from kprov.cluster.storage.group_commit import GroupCommit

__all__ = ["ListPage", "Store", "StoredObject"]


@dataclass(frozen=True)
class StoredObject:
    key: str
    obj: dict[str, Any]  # metadata.resourceVersion == str(revision)
    revision: int  # etcd mod_revision


@dataclass(frozen=True)
class ListPage:
    items: Sequence[StoredObject]
    revision: int  # the revision the whole list is consistent at
    next_key: str | None  # where the next page starts (None: this was the last page)
    remaining: int  # objects after this page


def _with_revision(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}


class Store:
    def __init__(self, kv: EtcdKV, codec: Codec) -> None:
        self.kv = kv
        self.codec = codec
        self.writes = GroupCommit(kv)  # concurrent writes share etcd round trips
        self.on_written: Callable[[str, int, dict[str, Any]], None] | None = None
        self.on_etcd_request: Callable[[str, str, float], None] | None = None

    def _timed(self, operation: str, key: str, start: float) -> None:
        if self.on_etcd_request is not None:
            self.on_etcd_request(operation, key, perf_counter() - start)

    async def _write(self, operation: str, key: str, bkey: bytes, request: bytes) -> Any:
        """One single-key transaction through the group commit, timed."""
        start = perf_counter()
        try:
            return await self.writes.txn(bkey, request)
        finally:
            report = self.on_etcd_request  # (as _timed, without its frame: every write passes here)
            if report is not None:
                report(operation, key, perf_counter() - start)

    def _stored(self, kv: Any) -> StoredObject:
        key = kv.key.decode()
        return StoredObject(key, self.codec.decode(key, kv.value, kv.mod_revision), kv.mod_revision)

    async def current_revision(self) -> int:
        # A point read of one (absent) key: etcd answers with its current revision in the
        # header without walking any range.
        result = await self.kv.range(b"/registry/", count_only=True)
        return result.revision

    async def get(self, key: str) -> StoredObject | None:
        start = perf_counter()
        try:
            result = await self.kv.range(key.encode())
        finally:
            self._timed("get", key, start)
        return self._stored(result.kvs[0]) if result.kvs else None

    async def get_raw(self, key: str) -> bytes | None:
        """The stored bytes as etcd holds them (encrypted values stay encrypted)."""
        result = await self.kv.range(key.encode())
        return bytes(result.kvs[0].value) if result.kvs else None

    async def stale(self, key: str) -> bool:
        """Whether the stored value was written under another encryption key (or none) than
        writes now use; an unchanged update of it is still written (key rotation)."""
        if not self.codec.encrypts(key):
            return False  # no read: most kinds are stored as they are
        raw = await self.get_raw(key)
        return raw is not None and self.codec.stale(key, raw)

    async def list(
        self, prefix: str, *, limit: int = 0, start_key: str | None = None, revision: int = 0
    ) -> ListPage:
        """Objects under ``prefix`` in key order; ``limit``/``start_key``/``revision`` page."""
        end = prefix_end(prefix.encode())
        began = perf_counter()
        try:
            result = await self.kv.range((start_key or prefix).encode(), end, revision=revision, limit=limit)
        finally:
            self._timed("list", prefix, began)
        items = [self._stored(kv) for kv in result.kvs]
        next_key = None
        remaining = 0
        if result.more and items:
            next_key = items[-1].key + "\x00"
            remaining = int(result.count) - len(items)
        return ListPage(items, revision or result.revision, next_key, remaining)

    async def create(self, key: str, obj: dict[str, Any]) -> StoredObject:
        bkey = key.encode()
        value = self.codec.encode(key, obj)
        result = await self._write("create", key, bkey, txn_wire.create(bkey, value))
        if not result.succeeded:
            raise KeyExistsError(key)
        return self._written(key, obj, result.revision)

    async def update(self, key: str, obj: dict[str, Any], expected_revision: int) -> StoredObject:
        """Write ``obj`` if the key is still at ``expected_revision``."""
        bkey = key.encode()
        value = self.codec.encode(key, obj)
        result = await self._write("update", key, bkey, txn_wire.update(bkey, value, expected_revision))
        if not result.succeeded:
            self._raise_for_current(key, expected_revision, result.responses)
        return self._written(key, obj, result.revision)

    def _written(self, key: str, obj: dict[str, Any], revision: int) -> StoredObject:
        stored = StoredObject(key, _with_revision(obj, revision), revision)
        if self.on_written is not None:
            self.on_written(key, revision, stored.obj)
        return stored

    async def delete(self, key: str, expected_revision: int) -> StoredObject:
        """Delete the key if it is still at ``expected_revision``; returns the last state
        with the deletion's revision as its resourceVersion."""
        bkey = key.encode()
        result = await self._write("delete", key, bkey, txn_wire.delete(bkey, expected_revision))
        if not result.succeeded:
            self._raise_for_current(key, expected_revision, result.responses)
        prev = result.responses[0].response_delete_range.prev_kvs
        if not prev:
            raise KeyNotFoundError(key)
        return StoredObject(key, self.codec.decode(key, prev[0].value, result.revision), result.revision)

    @staticmethod
    def _raise_for_current(key: str, expected: int, responses: Sequence[Any]) -> None:
        kvs = responses[0].response_range.kvs if responses else []
        if not kvs:
            raise KeyNotFoundError(key)
        raise RevisionConflictError(key, expected, int(kvs[0].mod_revision))
