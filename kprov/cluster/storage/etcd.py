"""etcd access through aetcd: connecting (plain or mutual TLS) and the three KV calls we use.

aetcd's high-level helpers hide the response header revision and do not expose limit/revision
on range reads, which consistent paging needs; so this module builds the etcd v3 messages
itself and calls aetcd's own gRPC stubs on aetcd's channel. Every gRPC failure becomes a
:class:`StorageUnavailableError`; reads at a compacted revision become
:class:`RevisionExpiredError`, and requests above etcd's size limit :class:`RequestTooLargeError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aetcd
import grpc
from aetcd import rpc

from kprov.cluster.storage.errors import (
    RequestTooLargeError,
    RevisionExpiredError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from kprov.cluster.storage.member_health import (
    REQUIRE_LEADER,
    HealthPolicy,
    MemberHealth,
    MemberStalledError,
)

__all__ = ["EtcdConfig", "EtcdKV", "RangeResult", "TxnResult", "leaderless", "prefix_end"]

_log = logging.getLogger(__name__)
_KV_RANGE = attrgetter("kvstub.Range")  # a client -> its KV call
_KV_TXN = attrgetter("kvstub.Txn")
_KV_PUT = attrgetter("kvstub.Put")
_ELECTION_BACKOFF_S = 0.025  # clientv3's retry interceptor waits 25 ms between retries

# How etcd (3.4, 3.5) refuses a request above --max-request-bytes, before applying anything:
# etcd itself up to that limit plus gRPC's 512 KiB allowance (INVALID_ARGUMENT), and its gRPC
# server beyond that (RESOURCE_EXHAUSTED, "... (2600053 vs. 2097152)"); and our own gRPC
# channel, which sends nothing above etcd's 2 MiB receive limit ("Sent message larger ...").
_TOO_LARGE = {
    grpc.StatusCode.INVALID_ARGUMENT: ("etcdserver: request is too large",),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (
        "grpc: received message larger than max",
        "CLIENT: Sent message larger than max",
    ),
}

# Lists of thousands of objects exceed gRPC's default 4 MiB receive limit. Sends stop at
# 2 MiB (etcd's gRPC server receives no more), as etcd's Go client's default
# MaxCallSendMsgSize stops them; GroupCommit refuses such a write before it is queued.
MAX_SEND_BYTES = 2 * 1024 * 1024
_CHANNEL_OPTIONS = {
    "grpc.max_receive_message_length": 512 * 1024 * 1024,
    "grpc.max_send_message_length": MAX_SEND_BYTES,
    "grpc.keepalive_time_ms": 30_000,
}


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with ``prefix``."""
    return aetcd.utils.prefix_range_end(prefix)


@dataclass(frozen=True)
class EtcdConfig:
    """Where etcd is and how to authenticate (``--etcd-*`` flags)."""

    servers: Sequence[str]  # URLs: http://127.0.0.1:2379 or https://10.0.0.1:2379
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    timeout_s: float = 10.0
    health: HealthPolicy = HealthPolicy()

    def target(self, index: int = 0) -> tuple[str, int]:
        server = self.servers[index]
        url = urlsplit(server if "://" in server else f"http://{server}")
        return url.hostname or "127.0.0.1", url.port or 2379

    @property
    def uses_tls(self) -> bool:
        return bool(self.cafile) or any(s.startswith("https://") for s in self.servers)


class _TlsClient(aetcd.Client):
    """aetcd.Client opening a mutual-TLS channel (aetcd 1.0 only opens insecure ones)."""

    def __init__(self, config: EtcdConfig, index: int = 0) -> None:
        host, port = config.target(index)
        super().__init__(host=host, port=port, options=_CHANNEL_OPTIONS)
        read = lambda p: Path(p).read_bytes() if p else None  # noqa: E731
        self._credentials = grpc.ssl_channel_credentials(
            root_certificates=read(config.cafile),
            private_key=read(config.keyfile),
            certificate_chain=read(config.certfile),
        )

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        self.channel = rpc.secure_channel(
            f"{self._host}:{self._port}", self._credentials, options=list(self._options.items())
        )
        self.kvstub = rpc.KVStub(self.channel)
        self.clusterstub = rpc.ClusterStub(self.channel)
        self.leasestub = rpc.LeaseStub(self.channel)
        self.maintenancestub = rpc.MaintenanceStub(self.channel)
        self._watcher = aetcd.watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout)
        self._connected.set()


@dataclass(frozen=True)
class RangeResult:
    kvs: Sequence[Any]  # etcd mvccpb.KeyValue messages
    revision: int  # the store revision the read saw
    more: bool
    count: int


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: Sequence[Any]  # etcd ResponseOp messages


class EtcdKV:
    """A connected etcd client: range reads, transactions, and the watch stub.

    It talks to one member at a time, the first of ``servers`` to begin with, and moves on to
    the next (round robin, members that failed lately last) when that member cannot serve: it
    answers UNAVAILABLE (down, or ``etcdserver: no leader`` -- every call carries etcd's
    require-leader metadata), or a call waits on it past ``health.probe_after_s`` and the
    member then fails a short health probe (:mod:`.member_health`; a member cut off from its
    peers or stopped). What is safe to retry is retried on the next member: reads always,
    writes only when the member never handled them (no connection, or refused for want of a
    leader). A write that may have been applied is reported instead (unavailable, or
    :class:`StorageTimeoutError` when it was cut short), as etcd's own client does, so no
    transaction is ever applied twice and none is reported written that was not.
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._clients = [self._client_for(i) for i in range(len(config.servers))]
        self._current = 0
        self._encoded_txns: dict[aetcd.Client, tuple[Any, Any]] = {}  # client -> (its channel, call)
        self.health = MemberHealth(len(config.servers), config.health)
        self._checks: set[asyncio.Task[None]] = set()  # watchdogs' probes under way
        self.revision_seen = 0  # the highest store revision any answer's header carried

    def _client_for(self, index: int) -> aetcd.Client:
        if self.config.uses_tls:
            return _TlsClient(self.config, index)
        host, port = self.config.target(index)
        return aetcd.Client(host=host, port=port, options=_CHANNEL_OPTIONS)

    @property
    def client(self) -> aetcd.Client:
        """The aetcd client of the member in use."""
        return self._clients[self._current]

    @property
    def current(self) -> int:
        """The index in ``servers`` of the member in use."""
        return self._current

    @property
    def server(self) -> str:
        return self.config.servers[self._current]

    async def connect(self) -> None:
        try:
            await self.client.connect()
        except Exception as exc:  # aetcd wraps gRPC errors in its own hierarchy
            raise StorageUnavailableError(f"etcd {self.server}: {exc}") from exc

    async def close(self) -> None:
        for task in list(self._checks):
            task.cancel()
        for client in self._clients:
            with contextlib.suppress(Exception):
                await client.close()

    @property
    def channel(self) -> grpc.aio.Channel:
        return self.client.channel

    def channel_of(self, index: int) -> grpc.aio.Channel:
        return self._clients[index].channel

    def failure(self, exc: grpc.aio.AioRpcError, revision: int = 0, *, size: int = 0) -> Exception:
        """The storage error for ``exc`` (``revision``: of the read; ``size``: of the request)."""
        details = exc.details() or ""
        if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
            return RevisionExpiredError(revision, 0)
        too_large = _TOO_LARGE.get(exc.code())
        if too_large is not None and details.startswith(too_large):  # (a tuple of prefixes)
            return RequestTooLargeError(details, size)
        return StorageUnavailableError(f"etcd {self.server}: {exc.code().name}: {details}")

    async def serves(self, index: int) -> bool:
        """Whether member ``index`` serves (:meth:`MemberHealth.serves`; free when it answered
        lately); one that does not is left for the next member."""
        if await self.health.serves(index, lambda deadline: self._probe(index, deadline)):
            return True
        await self.move_on(index, "its health probe failed")
        return False

    def _probe(self, index: int, deadline: float) -> Any:
        """kube-apiserver's etcd health check: a linearizable read of one key, requiring a leader."""
        request = rpc.RangeRequest(key=b"health", count_only=True)
        return self._clients[index].kvstub.Range(request, timeout=deadline, metadata=REQUIRE_LEADER)

    async def move_on(self, failed: int, why: str, *, answered: bool = False) -> None:
        """Hold member ``failed`` and use the next one, if ``failed`` is still the one in use
        (concurrent callers move on once); ``answered``: it refused rather than stayed silent."""
        self.health.failed(failed, answered=answered)
        if len(self._clients) == 1 or self._current != failed:
            return
        following = self.health.next_member(failed)
        await self._clients[following].connect()  # the member in use always has a channel
        if self._current == failed:
            self._current = following
            _log.warning("etcd %s: %s; using %s", self.config.servers[failed], why, self.server)

    def _encoded_txn(self, client: aetcd.Client) -> Any:
        """``KV/Txn`` on ``client``'s channel taking an already encoded request."""
        cached = self._encoded_txns.get(client)
        if cached is None or cached[0] is not client.channel:
            call = client.channel.unary_unary(
                "/etcdserverpb.KV/Txn",
                request_serializer=None,  # bytes from txn_wire go out as they are
                response_deserializer=rpc.TxnResponse.FromString,
                _registered_method=True,
            )
            cached = self._encoded_txns[client] = (client.channel, call)
        return cached[1]

    async def _call(self, method: Callable[[aetcd.Client], Any], request: Any, *, repeatable: bool) -> Any:
        """One KV call with failover (``repeatable``: safe to send twice); ``method`` gives the
        call on a client (``attrgetter("kvstub.Range")``, :meth:`_encoded_txn`)."""
        for attempt in range(len(self._clients)):
            index = self._current
            last_try = attempt == len(self._clients) - 1
            client = self._clients[index]
            call = method(client)(request, timeout=self.config.timeout_s, metadata=REQUIRE_LEADER)
            try:
                return await self._watched(index, call)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                refused = leaderless(exc)
                await self.move_on(index, f"unavailable ({exc.details()})", answered=refused)
                if len(self._clients) == 1 or last_try or not (repeatable or _never_handled(exc)):
                    raise
                if refused:  # an election under way: back off as etcd's client does (25 ms steps)
                    await asyncio.sleep(_ELECTION_BACKOFF_S * (attempt + 1))
            except MemberStalledError as exc:
                if len(self._clients) == 1 or last_try or not repeatable:
                    raise StorageTimeoutError(
                        f"etcd {self.config.servers[index]}: {exc}; the request may or may not have been "
                        "applied"
                    ) from exc
        raise AssertionError("unreachable")

    async def _watched(self, index: int, call: Any) -> Any:
        """Await ``call`` (a gRPC call: awaitable, ``done()``, ``cancel()``) on member ``index``;
        if it is still outstanding after ``probe_after_s`` and the member fails its health
        probe, cancel it and raise :class:`MemberStalledError`. Costs one timer when it is not."""
        watch = _Watchdog(self, index, call)
        try:
            response = await call
        except asyncio.CancelledError:
            if watch.stalled:
                why = f"no answer within {watch.waited:.1f}s and its health probe failed"
                raise MemberStalledError(why) from None
            raise
        finally:
            watch.stop()
        self.health.answered(index)
        header = getattr(response, "header", None)
        if header is not None and header.revision > self.revision_seen:
            self.revision_seen = int(header.revision)
        return response

    async def range(
        self,
        key: bytes,
        range_end: bytes | None = None,
        *,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
    ) -> RangeResult:
        request = rpc.RangeRequest(
            key=key,
            range_end=range_end or b"",
            revision=revision,
            limit=limit,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
        )
        try:
            response = await self._call(_KV_RANGE, request, repeatable=True)
        except grpc.aio.AioRpcError as exc:
            raise self.failure(exc, revision) from exc
        return RangeResult(response.kvs, response.header.revision, response.more, response.count)

    async def txn(self, compare: list[Any], success: list[Any], failure: list[Any]) -> TxnResult:
        request = rpc.TxnRequest(compare=compare, success=success, failure=failure)
        try:
            response = await self._call(_KV_TXN, request, repeatable=_reads_only(request))
        except grpc.aio.AioRpcError as exc:
            raise self.failure(exc, size=request.ByteSize()) from exc
        return TxnResult(response.succeeded, response.header.revision, response.responses)

    async def raw_txn(self, request: bytes) -> Any:
        """Send a write ``TxnRequest`` encoded by :mod:`.txn_wire` (never sent twice) and
        return etcd's ``TxnResponse``; gRPC errors are the caller's (see :meth:`failure`)."""
        return await self._call(self._encoded_txn, request, repeatable=False)

    async def put(self, key: bytes, value: bytes) -> int:
        try:
            response = await self._call(_KV_PUT, rpc.PutRequest(key=key, value=value), repeatable=False)
        except grpc.aio.AioRpcError as exc:
            raise self.failure(exc, size=len(key) + len(value)) from exc
        return int(response.header.revision)


def leaderless(exc: grpc.aio.AioRpcError) -> bool:
    """The member refused the call by etcd's require-leader check: alive, but without a leader."""
    return "etcdserver: no leader" in (exc.details() or "").lower()


def _never_handled(exc: grpc.aio.AioRpcError) -> bool:
    """The call failed before the member handled it, so it was not applied: no connection, or
    refused by etcd's require-leader check, which runs before the request's handler."""
    details = (exc.details() or "").lower()
    texts = ("failed to connect", "connection refused", "no connection")
    return leaderless(exc) or any(text in details for text in texts)


class _Watchdog:
    """Probes the member of one outstanding call every ``probe_after_s`` until it is done."""

    def __init__(self, kv: EtcdKV, index: int, call: Any) -> None:
        self._kv = kv
        self._index = index
        self._call = call
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self.stalled = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(
            kv.config.health.probe_after_s, self._fire
        )

    @property
    def waited(self) -> float:
        return self._loop.time() - self._started

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        if self._handle is None or self._call.done():
            return
        task = asyncio.ensure_future(self._check())
        self._kv._checks.add(task)
        task.add_done_callback(self._kv._checks.discard)

    async def _check(self) -> None:
        serves = await self._kv.serves(self._index)
        if self._handle is None or self._call.done():
            return
        if serves:
            self._handle = self._loop.call_later(self._kv.config.health.probe_after_s, self._fire)
        else:
            self.stalled = True
            self._call.cancel()


def _reads_only(request: Any) -> bool:
    ops = [*request.success, *request.failure]
    return all(op.WhichOneof("request") == "request_range" for op in ops)
