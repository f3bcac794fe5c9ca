"""etcd's gRPC errors as storage errors: a request above etcd's size limit is its own error
(the API answers 500, not a 503 inviting a retry), and alone in group commit it fails alone."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import grpc
import pytest
from aetcd import rpc

from kprov.cluster.storage import (
    EtcdConfig,
    EtcdKV,
    RequestTooLargeError,
    RevisionExpiredError,
    StorageUnavailableError,
    txn_wire,
)
from kprov.cluster.storage.etcd import MAX_SEND_BYTES
from kprov.cluster.storage.group_commit import GroupCommit

# What etcd 3.4.23 answered on loopback (default --max-request-bytes, 1.5 MiB): a 1.6-2 MB
# request is refused by etcd, a larger one by its gRPC server (limit + 512 KiB).
TOO_LARGE_ETCD = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
TOO_LARGE_GRPC = (
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    "grpc: received message larger than max (2600053 vs. 2097152)",
)


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def _kv() -> EtcdKV:
    return EtcdKV(EtcdConfig(["http://127.0.0.1:2379"]))  # never connected


@pytest.mark.parametrize("code,details", [TOO_LARGE_ETCD, TOO_LARGE_GRPC])
def test_a_request_above_etcds_limit_is_too_large(code: grpc.StatusCode, details: str) -> None:
    error = _kv().failure(_rpc_error(code, details), size=2_000_107)
    assert isinstance(error, RequestTooLargeError)
    assert not isinstance(error, StorageUnavailableError)
    assert error.size == 2_000_107 and error.details == details
    message = str(error)
    assert "request is too large" in message and details in message
    assert "2000107 bytes" in message and "--max-request-bytes" in message


@pytest.mark.parametrize(
    "code,details",
    [
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests"),  # retrying helps
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    ],
)
def test_other_failures_stay_unavailable(code: grpc.StatusCode, details: str) -> None:
    error = _kv().failure(_rpc_error(code, details))
    assert type(error) is StorageUnavailableError
    assert details in str(error)


def test_compacted_reads_are_expired() -> None:
    error = _kv().failure(
        _rpc_error(grpc.StatusCode.OUT_OF_RANGE, "mvcc: required revision has been compacted")
    )
    assert isinstance(error, RevisionExpiredError)


class _LimitedKV:
    """Refuses, like etcd, every request longer than ``limit`` bytes (so any batch here)."""

    def __init__(self, limit: int, refusal: tuple[grpc.StatusCode, str]) -> None:
        self.limit = limit
        self.refusal = refusal
        self.sent: list[bytes] = []
        self.applied: list[bytes] = []
        self._kv = _kv()

    async def raw_txn(self, request: bytes) -> rpc.TxnResponse:
        self.sent.append(request)
        if len(request) > self.limit:
            raise _rpc_error(*self.refusal)
        self.applied.append(request)
        return rpc.TxnResponse(succeeded=True, header=rpc.ResponseHeader(revision=len(self.applied)))

    def failure(self, exc: grpc.aio.AioRpcError, revision: int = 0, *, size: int = 0) -> Exception:
        return self._kv.failure(exc, revision, size=size)


@pytest.mark.parametrize("refusal", [TOO_LARGE_ETCD, TOO_LARGE_GRPC])
async def test_a_too_large_write_fails_alone_and_its_batch_mates_are_written(
    refusal: tuple[grpc.StatusCode, str],
) -> None:
    small = [txn_wire.create(f"/registry/s/{i}".encode(), b"{}") for i in range(5)]
    big = txn_wire.create(b"/registry/big", b"x" * 1000)
    kv = _LimitedKV(limit=max(len(r) for r in small), refusal=refusal)
    commit = GroupCommit(kv)  # type: ignore[arg-type]
    writes = asyncio.gather(
        *(commit.txn(f"/registry/s/{i}".encode(), r) for i, r in enumerate(small[:2])),
        commit.txn(b"/registry/big", big),
        *(commit.txn(f"/registry/s/{i}".encode(), r) for i, r in enumerate(small[2:], 2)),
        return_exceptions=True,
    )
    outcomes = await asyncio.wait_for(writes, 5)
    assert commit.batches == 1 and len(kv.sent) == 1 + 6  # one batch refused, then each alone
    error = outcomes[2]
    assert isinstance(error, RequestTooLargeError) and error.size == len(big)
    assert [o.succeeded for i, o in enumerate(outcomes) if i != 2] == [True] * 5  # type: ignore[union-attr]
    assert sorted(kv.applied) == sorted(small)


async def test_a_write_above_etcds_receive_limit_is_refused_before_it_is_sent() -> None:
    kv = _LimitedKV(limit=10**9, refusal=TOO_LARGE_ETCD)
    commit = GroupCommit(kv)  # type: ignore[arg-type]
    big = txn_wire.create(b"/registry/big", b"x" * MAX_SEND_BYTES)
    with pytest.raises(RequestTooLargeError) as caught:
        await commit.txn(b"/registry/big", big)
    assert kv.sent == []
    assert f"trying to send message larger than max ({len(big)} vs. 2097152)" in str(caught.value)
    assert str(caught.value).startswith("request is too large for etcd: ")


class _Held:
    """Stands for the objects a handler's frame holds while its write fails."""


async def test_a_refused_write_leaves_no_cycle_holding_the_callers_objects() -> None:
    # The future held the exception, its traceback the waiting frame, that frame the future:
    # the caller's frames (a 3 MB object, its JSON) lived until the cyclic GC ran (the fuzz
    # harness's RSS grew 11.5 MiB per 3 MB create etcd refused).
    small = txn_wire.create(b"/registry/a", b"x" * 100)
    commit = GroupCommit(_LimitedKV(limit=10, refusal=TOO_LARGE_ETCD))  # type: ignore[arg-type]

    async def handler() -> weakref.ref[_Held]:
        held = _Held()
        with contextlib.suppress(RequestTooLargeError):
            await commit.txn(b"/registry/a", small)
        return weakref.ref(held)

    gc.disable()
    try:
        ref = await handler()
        await asyncio.sleep(0)
        assert ref() is None
    finally:
        gc.enable()
