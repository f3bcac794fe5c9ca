"""etcd's single-key write transactions, encoded straight to protobuf wire bytes.

Every object write is one small ``TxnRequest`` on one key (compare a revision, then put or
delete, else read the key), and concurrent ones travel nested in one outer ``TxnRequest``
(:mod:`.group_commit`). Built as protobuf message objects, nested (which copies each one)
and serialized again, they cost more CPU per write than encoding the object itself; these
functions write the same bytes directly. They are a handful of length-delimited fields,
numbered as in etcd's ``rpc.proto`` (the unit tests parse them with aetcd's generated
messages). :meth:`EtcdKV.raw_txn` sends them on aetcd's channel as they are, and aetcd's
``TxnResponse`` parses the answer as before.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["batch", "create", "delete", "update"]

# Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
_TXN_COMPARE, _TXN_SUCCESS, _TXN_FAILURE = b"\x0a", b"\x12", b"\x1a"
_OP_RANGE, _OP_PUT, _OP_DELETE, _OP_TXN = b"\x0a", b"\x12", b"\x1a", b"\x22"
_KEY, _VALUE = b"\x0a", b"\x12"  # PutRequest / RangeRequest / DeleteRangeRequest key; Put value
_DELETE_PREV_KV = b"\x18\x01"  # DeleteRangeRequest.prev_kv = true
_CMP_TARGET, _CMP_KEY = b"\x10", b"\x1a"  # Compare.target, Compare.key (result EQUAL = 0: omitted)
_CMP_CREATE_REVISION, _CMP_MOD_REVISION = b"\x28", b"\x30"
_TARGET_CREATE, _TARGET_MOD = b"\x01", b"\x02"
_SMALL = [bytes([n]) for n in range(0x80)]


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:  # every object's length: two bytes
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


def _get(key: bytes) -> bytes:
    return _field(_TXN_FAILURE, _field(_OP_RANGE, _field(_KEY, key)))


def _put(key: bytes, value: bytes) -> bytes:
    return _field(_TXN_SUCCESS, _field(_OP_PUT, _field(_KEY, key) + _field(_VALUE, value)))


def create(key: bytes, value: bytes) -> bytes:
    """Put ``key`` = ``value`` if the key does not exist (create_revision == 0)."""
    # Every create writes this; spelled out, it is one join instead of six nested fields.
    key_len = _varint(len(key))
    compare = b"".join((_CMP_TARGET, _TARGET_CREATE, _CMP_KEY, key_len, key, _CMP_CREATE_REVISION, b"\x00"))
    put = b"".join((_KEY, key_len, key, _VALUE, _varint(len(value)), value))
    op_len = _varint(len(put) + 1 + len(_varint(len(put))))
    return b"".join(
        (_TXN_COMPARE, _varint(len(compare)), compare, _TXN_SUCCESS, op_len, _OP_PUT, _varint(len(put)), put)
    )


def update(key: bytes, value: bytes, revision: int) -> bytes:
    """Put ``key`` = ``value`` if the key is at ``revision``; else read it."""
    compare = _CMP_TARGET + _TARGET_MOD + _field(_CMP_KEY, key) + _CMP_MOD_REVISION + _varint(revision)
    return _field(_TXN_COMPARE, compare) + _put(key, value) + _get(key)


def delete(key: bytes, revision: int) -> bytes:
    """Delete ``key`` (returning its last value) if it is at ``revision``; else read it."""
    compare = _CMP_TARGET + _TARGET_MOD + _field(_CMP_KEY, key) + _CMP_MOD_REVISION + _varint(revision)
    op = _field(_TXN_SUCCESS, _field(_OP_DELETE, _field(_KEY, key) + _DELETE_PREV_KV))
    return _field(_TXN_COMPARE, compare) + op + _get(key)


def batch(txns: Iterable[bytes]) -> bytes:
    """One transaction whose success operations are ``txns``, nested (each keeps its own
    comparison and outcome)."""
    return b"".join([_field(_TXN_SUCCESS, _field(_OP_TXN, txn)) for txn in txns])
