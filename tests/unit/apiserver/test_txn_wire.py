"""The hand-encoded write transactions parse, with aetcd's generated messages, into exactly
the TxnRequests the store used to build from those messages."""

from __future__ import annotations

import pytest
from aetcd import rpc

from kprov.cluster.storage import txn_wire

KEY = b"/registry/pods/default/web"


def _get(key: bytes) -> rpc.RequestOp:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key))


def _compare(key: bytes, target: int, **revision: int) -> rpc.Compare:
    return rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=target, **revision)


@pytest.mark.parametrize("value", [b"", b"{}", b"x" * 300, bytes(range(256)) * 70])
def test_create(value: bytes) -> None:
    expected = rpc.TxnRequest(
        compare=[_compare(KEY, rpc.Compare.CREATE, create_revision=0)],
        success=[rpc.RequestOp(request_put=rpc.PutRequest(key=KEY, value=value))],
    )
    parsed = rpc.TxnRequest.FromString(txn_wire.create(KEY, value))
    assert parsed == expected
    assert parsed.compare[0].WhichOneof("target_union") == "create_revision"


@pytest.mark.parametrize("revision", [1, 127, 128, 300, 2**31, 2**62])
def test_update(revision: int) -> None:
    value = b'{"kind":"Pod"}'
    expected = rpc.TxnRequest(
        compare=[_compare(KEY, rpc.Compare.MOD, mod_revision=revision)],
        success=[rpc.RequestOp(request_put=rpc.PutRequest(key=KEY, value=value))],
        failure=[_get(KEY)],
    )
    assert rpc.TxnRequest.FromString(txn_wire.update(KEY, value, revision)) == expected


def test_delete() -> None:
    expected = rpc.TxnRequest(
        compare=[_compare(KEY, rpc.Compare.MOD, mod_revision=42)],
        success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=KEY, prev_kv=True))],
        failure=[_get(KEY)],
    )
    assert rpc.TxnRequest.FromString(txn_wire.delete(KEY, 42)) == expected


def test_batch_nests_each_transaction() -> None:
    parts = [txn_wire.create(KEY + str(i).encode(), b"v" * i * 50) for i in range(5)]
    outer = rpc.TxnRequest.FromString(txn_wire.batch(parts))
    assert not outer.compare and not outer.failure
    assert [op.request_txn for op in outer.success] == [rpc.TxnRequest.FromString(p) for p in parts]
    assert txn_wire.batch([]) == b""
