"""Protocol Buffers wire format: varints and a message's fields, nothing schema-aware.

Shared by the API server's protobuf request decoding (:mod:`.protobuf_decode`, with the schema
table) and the kubelet's gRPC health probe (two one-field messages). Both need only the
wire layer, so neither pulls in generated message classes; errors are :class:`WireError`
(a ValueError), which callers word for their own context.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["WireError", "encode_varint", "field_key", "iter_fields", "length_delimited", "read_varint"]

FieldValue = int | bytes


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_key(number: int, wire_type: int) -> bytes:
    """A field's key: its number and wire type (0 varint, 1 fixed64, 2 length-delimited)."""
    return encode_varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Field ``number`` holding ``payload`` (bytes, a string's UTF-8, or a message)."""
    return field_key(number, 2) + encode_varint(len(payload)) + payload


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, FieldValue]]:
    """(field number, wire type, raw value) for each field: an int for varints, the bytes of
    fixed64/fixed32 and length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: FieldValue
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise WireError("truncated length-delimited field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise WireError(f"unsupported protobuf wire type {wire} (field {number})")
        yield number, wire, value
