"""Decode Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to JSON dicts.

Design: the body is `k8s\\x00` + a `runtime.Unknown` message (1: TypeMeta{1: apiVersion,
2: kind}, 2: raw object bytes, 3: contentEncoding, 4: contentType). The raw object is
decoded field by field with the field numbers from the shared schema table (schema.py), so
every kind in that table decodes, not only the few kubectl sends as protobuf. A small
wire-format reader is used rather than the `protobuf` package: that package needs compiled
descriptors for every message, and the k8s special types (Time, Quantity, IntOrString,
RawExtension, bytes as base64, Go's zero-value rules) need custom mapping anyway.
Go marshals value fields even when zero; zero scalars of non-pointer `omitempty` fields are
dropped so the result equals what the JSON encoding of the same object would carry.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from collections.abc import Iterator
from typing import Any

from kprov.cluster.api.errors import UnsupportedMediaType
from kprov.cluster.api.resources import split_api_version
from kprov.cluster.api.schema.known_fields import (
    FieldSpec,
    inline_members,
    is_struct,
    own_fields,
    type_for_kind,
)
from kprov.cluster.api.wire.protowire import WireError, iter_fields, read_varint

__all__ = [
    "MAGIC",
    "PROTOBUF_CONTENT_TYPE",
    "ProtobufError",
    "UnsupportedKind",
    "decode_message",
    "decode_object",
    "message_type",
]

MAGIC = b"k8s\x00"
_EPOCH = dt.datetime(1970, 1, 1)
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(UnsupportedMediaType):
    """Malformed protobuf (answered as 400 BadRequest)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code, self.reason = 400, "BadRequest"


class UnsupportedKind(UnsupportedMediaType):
    """A kind the schema table has no protobuf field numbers for (415)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return read_varint(data, pos)
    except WireError as exc:
        raise ProtobufError(f"{exc} in protobuf body") from None


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, raw value) for each field in a message."""
    try:
        yield from iter_fields(data)
    except WireError as exc:
        raise ProtobufError(f"{exc} in protobuf body") from None


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = ((value + (1 << 31)) % (1 << 32)) - (1 << 31)
    return value


def _time(data: bytes, micro: bool) -> str | None:
    seconds = nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = _signed(value, 64)
        elif number == 2:
            nanos = _signed(value, 32)
    if seconds == 0 and nanos == 0:
        return None
    # from the epoch by arithmetic, formatted by isoformat: Go's zero-ish times (year 1) stay
    # four-digit years, where fromtimestamp overflows and strftime("%Y") writes "1"
    moment = _EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    return moment.isoformat(timespec="microseconds" if micro else "seconds") + "Z"


def _duration(data: bytes) -> str:
    nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            nanos = _signed(value, 64)
    seconds = nanos / 1e9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:g}s"
    if minutes or hours:
        text = f"{int(minutes)}m" + text
    if hours:
        text = f"{int(hours)}h" + text
    return text


def _int_or_string(data: bytes) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, _, value in _fields(data):
        if number == 1:
            kind = value
        elif number == 2:
            int_val = _signed(value, 32)
        elif number == 3:
            str_val = value.decode()
    return str_val if kind == 1 else int_val


def _first_bytes(data: bytes) -> bytes:
    for number, _, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            return value
    return b""


_VARINT_TYPES = frozenset({"int32", "int64", "bool"})


def _scalar(type_name: str, wire: int, value: Any) -> Any:
    """One value of a scalar or special type."""
    expected = 0 if type_name in _VARINT_TYPES else 1 if type_name == "float64" else 2
    if wire != expected:
        raise ProtobufError(f"protobuf wire type {wire} does not fit a {type_name} field")
    if type_name == "string":
        return value.decode("utf-8")
    if type_name == "bytes":
        return base64.b64encode(value).decode("ascii")
    if type_name in ("int32", "int64"):
        return _signed(value, 32 if type_name == "int32" else 64)
    if type_name == "bool":
        return bool(value)
    if type_name == "float64":
        return struct.unpack("<d", value)[0] if wire == 1 else float(value)
    if type_name == "Quantity":
        return _first_bytes(value).decode()
    if type_name == "IntOrString":
        return _int_or_string(value)
    if type_name in ("Time", "MicroTime"):
        return _time(value, type_name == "MicroTime")
    if type_name == "Duration":
        return _duration(value)
    if type_name == "StringList":
        return [item.decode() for number, _, item in _fields(value) if number == 1]
    if type_name in ("RawExtension", "FieldsV1"):
        raw = _first_bytes(value)
        return json.loads(raw) if raw else None
    if is_struct(type_name):
        return decode_message(value, type_name)
    return None  # "any": no decodable shape


def _packed(type_name: str, data: bytes) -> list[Any]:
    if type_name == "float64":
        return [struct.unpack("<d", data[i : i + 8])[0] for i in range(0, len(data), 8)]
    out, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(_scalar(type_name, 0, value))
    return out


def _is_zero(value: Any) -> bool:
    return value == "" or (not isinstance(value, str) and value == 0)


def _store(obj: dict[str, Any], spec: FieldSpec, wire: int, raw: Any) -> None:
    base = spec.base
    if base.startswith("[]") and base != "[]byte":
        item_type = base[2:].lstrip("*")
        items = obj.setdefault(spec.name, [])
        if wire == 2 and item_type in ("int32", "int64", "bool", "float64"):
            items.extend(_packed(item_type, raw))
        else:
            items.append(_scalar(item_type, wire, raw))
        return
    if base.startswith("map[string]"):
        value_type = base[len("map[string]") :].lstrip("*")
        key, value = "", None
        for number, entry_wire, entry_raw in _fields(raw):
            if number == 1:
                key = entry_raw.decode()
            elif number == 2:
                value = _scalar(value_type, entry_wire, entry_raw)
        if value is None:
            empty: Any = [] if value_type == "StringList" else {}
            value = "" if value_type in ("string", "bytes", "Quantity") else empty
        obj.setdefault(spec.name, {})[key] = value
        return
    value = _scalar(base, wire, raw)
    if value is None:
        return
    if not spec.pointer and spec.omitempty and not isinstance(value, dict | list) and _is_zero(value):
        return
    obj[spec.name] = value


def decode_message(data: bytes, type_name: str) -> dict[str, Any]:
    """Decode one message of struct `type_name` (e.g. `apps.Deployment`) to its JSON form."""
    by_number = {spec.proto: spec for spec in own_fields(type_name).values() if spec.proto}
    inline = {spec.proto: spec for spec in inline_members(type_name).values() if spec.proto}
    obj: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        if number in inline:
            obj.update(decode_message(raw, inline[number].base))
            continue
        spec = by_number.get(number)
        if spec is not None:
            _store(obj, spec, wire, raw)
    return obj


def message_type(api_version: str, kind: str) -> str:
    """The schema struct of a kind, or "" if none: the group's own type, else meta's
    (DeleteOptions, Status, List... are registered in every group version)."""
    if not kind:
        return ""
    group, version = split_api_version(api_version)
    for candidate in (type_for_kind(group, kind, version), f"meta.{kind}"):
        if is_struct(candidate):
            return candidate
    return ""


def decode_object(body: bytes) -> dict[str, Any]:
    """A whole protobuf request body -> the object dict with apiVersion and kind set."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic prefix")
    api_version = kind = ""
    raw = b""
    encoding = ""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for type_number, _, type_value in _fields(value):
                if type_number == 1:
                    api_version = type_value.decode()
                elif type_number == 2:
                    kind = type_value.decode()
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = value.decode()
    if encoding:
        raise UnsupportedKind(f"protobuf content encoding {encoding!r} is not supported")
    type_name = message_type(api_version, kind)
    if not type_name:
        raise UnsupportedKind(f"no protobuf schema for {api_version}/{kind}; send JSON instead")
    obj = decode_message(raw, type_name)
    return {"apiVersion": api_version, "kind": kind, **obj}
