"""The JSON Go's ``encoding/json`` writes for a typed Kubernetes value, to the byte.

Design: upstream controllers store a template in a ControllerRevision as
``json.Marshal`` of the typed object (re-marshalled through a map, so keys sorted), and
clients find "the current revision" by comparing those bytes (``daemon.Match``,
``history.EqualRevision``). To be found, kprov's controllers must write the same bytes.
``typed_json`` applies Go's rules to a JSON-form value using the schema table: unknown
fields dropped, ``omitempty`` zero scalars and empty lists/maps dropped, a non-pointer
struct always written (``resources: {}``; a zero ``Time`` as ``null``), a field without
``omitempty`` written even when absent (its zero value; a nil list or map as ``null``).
``canonical_bytes`` is Go's map encoding: sorted keys, no spaces, ``<``, ``>``, ``&`` and
U+2028/U+2029 escaped. Not covered: re-formatting a quantity that is not in canonical form
(``0.5`` stays ``0.5`` where Go writes ``500m``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from kprov.cluster.api.schema.known_fields import FREE_FORM, FieldSpec, fields_of, is_struct

__all__ = ["canonical_bytes", "typed_json"]

_SCALAR_ZERO: Mapping[str, Any] = {
    "string": "", "int32": 0, "int64": 0, "float64": 0, "bool": False,
    "Quantity": "0", "IntOrString": 0, "Duration": "0s",
}
_PLAIN = frozenset({"string", "int32", "int64", "float64", "bool"})
_NULL_WHEN_ZERO = frozenset({"Time", "MicroTime", "RawExtension", "FieldsV1", "any", "bytes", "[]byte"})
_GO_ESCAPES = (
    (b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"),
)


def typed_json(value: Any, type_name: str) -> Any:
    """``value`` (JSON form) as Go would write it after decoding it into ``type_name``."""
    base = type_name.lstrip("*")
    if value is None:
        return _zero(base) if base == type_name and not base.startswith(("[]", "map[")) else None
    if base in FREE_FORM or base in ("bytes", "[]byte"):
        return value
    if base.startswith("[]"):
        return [typed_json(item, base[2:]) for item in value] if isinstance(value, list) else None
    if base.startswith("map[string]"):
        inner = base[len("map[string]"):]
        if not isinstance(value, dict):
            return None
        return {key: typed_json(item, inner) for key, item in value.items()}
    if is_struct(base):
        return _struct(value if isinstance(value, Mapping) else {}, base)
    return value


def _struct(value: Mapping[str, Any], type_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in fields_of(type_name).items():
        present = name in value and value[name] is not None
        if present and not _omitted(spec, value[name]):
            out[name] = typed_json(value[name], spec.type)
        elif not present and not _omitted(spec, None):
            out[name] = None if spec.pointer else _zero(spec.base)
    return out


def _omitted(spec: FieldSpec, value: Any) -> bool:
    """Whether Go leaves the field out: ``omitempty`` and the value is empty. A pointer is
    empty only when nil; a struct value (Time, Quantity, IntOrString too) never is."""
    if not spec.omitempty:
        return False
    base = spec.base
    if value is None:
        return (spec.pointer or base in _PLAIN or base in ("any", "bytes", "[]byte")
                or base.startswith(("[]", "map[")))
    if spec.pointer:
        return False
    if base.startswith(("[]", "map[")) or base in ("bytes", "[]byte"):
        return len(value) == 0
    if base == "bool":
        return value is False
    if base in _PLAIN:
        return value == "" if base == "string" else value == 0
    return False


def _zero(base: str) -> Any:
    if base in _SCALAR_ZERO:
        return _SCALAR_ZERO[base]
    if base.startswith(("[]", "map[")) or base in _NULL_WHEN_ZERO:
        return None
    if is_struct(base):
        return _struct({}, base)
    return None


def canonical_bytes(value: Any) -> bytes:
    """``value`` encoded as Go encodes a ``map[string]interface{}``: sorted keys, compact,
    HTML-significant characters escaped."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    for char, escaped in _GO_ESCAPES:
        if char in raw:
            raw = raw.replace(char, escaped)
    return raw
