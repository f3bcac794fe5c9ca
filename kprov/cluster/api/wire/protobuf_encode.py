"""Encode JSON-form objects as Kubernetes protobuf (`application/vnd.kubernetes.protobuf`).

Design: the mirror of protobuf.py's decoder, driven by the same schema table (field
numbers from the upstream Go types). An object becomes `k8s\\x00` + `runtime.Unknown`
{1: TypeMeta{1: apiVersion, 2: kind}, 2: the message, 3: "", 4: ""}; a watch event is a
4-byte big-endian length + `WatchEvent`{1: type, 2: RawExtension{1: that envelope}}, the
framing client-go's protobuf watch decoder reads. Only fields present in the dict are
written: an absent field decodes to Go's zero value, which is what the JSON form means by
leaving it out. Fields the table does not know (and `any`-typed ones) are not written, as
Go's JSON decoding would have dropped them too.
The special types: Time/MicroTime {1: seconds, 2: nanos}, Duration {1: nanoseconds},
Quantity {1: string}, IntOrString {1: type, 2: intVal, 3: strVal}, RawExtension/FieldsV1
{1: raw JSON; a RawExtension's in Go's map encoding, :mod:`.go_json`}, StringList
{1: repeated string}, bytes from base64, maps as repeated {1: key, 2: value} entries sorted
by key (as Go's generated code writes them).
Hand-written for the same reason as the decoder: the `protobuf` package needs compiled
descriptors per message and none of these special mappings.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from kprov.cluster.api.schema.known_fields import FieldSpec, inline_members, is_struct, own_fields
from kprov.cluster.api.wire.go_json import canonical_bytes
from kprov.cluster.api.wire.protobuf_decode import MAGIC, UnsupportedKind, message_type
from kprov.cluster.api.wire.protowire import field_key, length_delimited

__all__ = ["encodable", "encode_message", "encode_object", "watch_frame"]

_EPOCH = dt.datetime(1970, 1, 1)
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negatives as ten-byte two's complement, as Go writes them
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_key = field_key
_bytes_field = length_delimited


def _string_field(number: int, text: str) -> bytes:
    return _bytes_field(number, text.encode())


def _time(text: str) -> bytes:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)  # exact, and fine for year 1
    nanos = moment.microsecond * 1000
    out = _key(1, 0) + _varint(seconds) if seconds else b""
    return out + (_key(2, 0) + _varint(nanos) if nanos else b"")


def _duration(text: str) -> bytes:
    sign = -1 if text.startswith("-") else 1
    nanos = sum(int(float(amount) * _NANOS[unit]) for amount, unit in _DURATION_PART.findall(text))
    return _key(1, 0) + _varint(sign * nanos) if nanos else b""


def _int_or_string(value: Any) -> bytes:
    if isinstance(value, str):
        return _key(1, 0) + _varint(1) + _string_field(3, value)
    return _key(1, 0) + _varint(0) + _key(2, 0) + _varint(int(value))


def _raw_json(value: Any, go_map_form: bool) -> bytes:
    """A RawExtension's bytes as a Go client would have stored them (sorted keys, Go's
    escapes: clients compare them, e.g. a ControllerRevision's ``data``); FieldsV1 as is."""
    return _bytes_field(1, canonical_bytes(value) if go_map_form else orjson.dumps(value))


def _value(number: int, type_name: str, value: Any) -> bytes:
    """One field holding `value` of a scalar, special or struct type (b"" if unencodable)."""
    if type_name == "string":
        return _string_field(number, str(value))
    if type_name in ("int32", "int64"):
        return _key(number, 0) + _varint(int(value))
    if type_name == "bool":
        return _key(number, 0) + _varint(1 if value else 0)
    if type_name == "float64":
        return _key(number, 1) + struct.pack("<d", float(value))
    if type_name == "bytes":
        return _bytes_field(number, base64.b64decode(value))
    if type_name == "Quantity":
        return _bytes_field(number, _string_field(1, str(value)))
    if type_name == "IntOrString":
        return _bytes_field(number, _int_or_string(value))
    if type_name in ("Time", "MicroTime"):
        return _bytes_field(number, _time(value))
    if type_name == "Duration":
        return _bytes_field(number, _duration(str(value)))
    if type_name in ("RawExtension", "FieldsV1"):
        return _bytes_field(number, _raw_json(value, type_name == "RawExtension"))
    if type_name == "StringList":
        return _bytes_field(number, b"".join(_string_field(1, str(item)) for item in value))
    if is_struct(type_name) and isinstance(value, Mapping):
        return _bytes_field(number, encode_message(value, type_name))
    return b""


def _field(spec: FieldSpec, value: Any) -> bytes:
    number = spec.proto
    if number is None or value is None:
        return b""
    base = spec.base
    if base.startswith("[]") and base != "[]byte":
        item_type = base[2:].lstrip("*")
        return b"".join(_value(number, item_type, item) for item in value if item is not None)
    if base.startswith("map[string]"):
        value_type = base[len("map[string]") :].lstrip("*")
        out = bytearray()
        for key in sorted(value):
            item = value[key]
            entry = _string_field(1, key) + (_value(2, value_type, item) if item is not None else b"")
            out += _bytes_field(number, entry)
        return bytes(out)
    return _value(number, base, value)


def encode_message(obj: Mapping[str, Any], type_name: str) -> bytes:
    """The message bytes of struct `type_name` (e.g. `apps.Deployment`) for its JSON form."""
    parts: list[tuple[int, bytes]] = []
    fields = own_fields(type_name)
    for name, value in obj.items():
        spec = fields.get(name)
        if spec is not None and spec.proto is not None:
            parts.append((spec.proto, _field(spec, value)))
    for spec in inline_members(type_name).values():
        if spec.proto is None:
            continue  # TypeMeta: carried by the envelope
        inner = encode_message(obj, spec.base)
        if inner:
            parts.append((spec.proto, _bytes_field(spec.proto, inner)))
    parts.sort(key=lambda part: part[0])
    return b"".join(data for _, data in parts)


def encodable(api_version: str, kind: str) -> bool:
    """Whether objects of this kind have protobuf field numbers (else: answer JSON)."""
    return bool(message_type(api_version, kind))


def encode_object(obj: Mapping[str, Any]) -> bytes:
    """A whole object (apiVersion and kind set) -> the `k8s\\x00` + runtime.Unknown envelope."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    type_name = message_type(api_version, kind)
    if not type_name:
        raise UnsupportedKind(f"no protobuf schema for {api_version}/{kind}")
    type_meta = _string_field(1, api_version) + _string_field(2, kind)
    raw = encode_message(obj, type_name)
    unknown = _bytes_field(1, type_meta) + _bytes_field(2, raw) + _string_field(3, "") + _string_field(4, "")
    return MAGIC + unknown


def watch_frame(event_type: str, obj: Mapping[str, Any]) -> bytes:
    """One length-prefixed protobuf WatchEvent frame."""
    event = _string_field(1, event_type) + _bytes_field(2, _bytes_field(1, encode_object(obj)))
    return struct.pack(">I", len(event)) + event
