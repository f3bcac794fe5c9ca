"""etcd access through aetcd: connecting (plain or mutual TLS) and the three KV calls we use.

aetcd's high-level helpers hide the response header revision and do not expose limit/revision
on range reads, which consistent paging needs; so this module builds the etcd v3 messages
itself and calls aetcd's own gRPC stubs on aetcd's channel. Every gRPC failure becomes a
:class:`StorageUnavailableError`; reads at a compacted revision become
:class:`RevisionExpiredError`, and requests above etcd's size limit :class:`RequestTooLargeError`.
"""

from __future__ import annotations

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

from kprov.cluster.storage.errors import RequestTooLargeError, RevisionExpiredError, StorageUnavailableError

__all__ = ["EtcdConfig", "EtcdKV", "RangeResult", "TxnResult", "prefix_end"]

_log = logging.getLogger(__name__)
_KV_RANGE = attrgetter("kvstub.Range")  # a client -> its KV call
_KV_TXN = attrgetter("kvstub.Txn")
_KV_PUT = attrgetter("kvstub.Put")

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

    It talks to one member at a time, the first of ``servers`` to begin with. When that
    member is unavailable it moves on to the next (round robin) and retries there what is
    safe to retry: reads always, writes only when the request never reached the member.
    A write that may have been applied is reported as unavailable instead, as etcd's own
    client does, so no transaction is ever applied twice.
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._clients = [self._client_for(i) for i in range(len(config.servers))]
        self._current = 0
        self._encoded_txns: dict[aetcd.Client, tuple[Any, Any]] = {}  # client -> (its channel, call)

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
    def server(self) -> str:
        return self.config.servers[self._current]

    async def connect(self) -> None:
        try:
            await self.client.connect()
        except Exception as exc:  # aetcd wraps gRPC errors in its own hierarchy
            raise StorageUnavailableError(f"etcd {self.server}: {exc}") from exc

    async def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                await client.close()

    @property
    def channel(self) -> grpc.aio.Channel:
        return self.client.channel

    def failure(self, exc: grpc.aio.AioRpcError, revision: int = 0, *, size: int = 0) -> Exception:
        """The storage error for ``exc`` (``revision``: of the read; ``size``: of the request)."""
        details = exc.details() or ""
        if exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
            return RevisionExpiredError(revision, 0)
        too_large = _TOO_LARGE.get(exc.code())
        if too_large is not None and details.startswith(too_large):  # (a tuple of prefixes)
            return RequestTooLargeError(details, size)
        return StorageUnavailableError(f"etcd {self.server}: {exc.code().name}: {details}")

    async def _move_on(self, failed: aetcd.Client, exc: grpc.aio.AioRpcError) -> bool:
        """After ``exc`` from ``failed``: use the next member if that one is unavailable.
        True when there is another member to try."""
        if exc.code() != grpc.StatusCode.UNAVAILABLE or len(self._clients) == 1:
            return False
        if self.client is failed:  # concurrent callers move on once
            following = (self._current + 1) % len(self._clients)
            await self._clients[following].connect()  # the member in use always has a channel
            if self.client is failed:
                self._current = following
                failed_server = self.config.servers[self._clients.index(failed)]
                _log.warning("etcd %s unavailable (%s); using %s", failed_server, exc.details(), self.server)
        return True

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
            client = self.client
            try:
                return await method(client)(request, timeout=self.config.timeout_s)
            except grpc.aio.AioRpcError as exc:
                last_try = attempt == len(self._clients) - 1
                if not await self._move_on(client, exc) or last_try or not (repeatable or _never_sent(exc)):
                    raise
        raise AssertionError("unreachable")

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


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """The call failed before reaching the member (no connection), so it was not applied."""
    details = (exc.details() or "").lower()
    return any(text in details for text in ("failed to connect", "connection refused", "no connection"))


def _reads_only(request: Any) -> bool:
    ops = [*request.success, *request.failure]
    return all(op.WhichOneof("request") == "request_range" for op in ops)
