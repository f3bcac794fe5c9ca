"""A decoded body checked against the Go types kube-apiserver decodes it into.

Design: kube-apiserver unmarshals a create or update body into the kind's Go struct; a JSON
value of the wrong type (a number for ``metadata.name``, a list for a ConfigMap's ``data``)
fails there with encoding/json's words, and the handler answers 400 BadRequest
``<Kind> in version "<v>" cannot be handled as a <Kind>: json: cannot unmarshal number into
Go struct field ObjectMeta.metadata.name of type string``. kprov decodes into plain Python
values, so this walk over the kind's type schema (known_fields) finds the first such value,
in document order, and names it as encoding/json does: the innermost struct's Go name, the
path of JSON field names from the root (no list indexes or map keys), and the Go type. It
also writes Go's zero value where a ``null`` stands for a string, number or bool inside a
list or map (``finalizers: [null]`` is ``[""]`` once decoded), so nothing downstream meets a
``None`` the typed object could not hold. Known gap: the schema keeps named string types
(``types.UID``, ``v1.Protocol``) as ``string``, so those messages say ``string``.
Special scalars follow their UnmarshalJSON: a Time must be an RFC 3339 string (time.Parse's
range errors), IntOrString a string or an int32, Quantity a string or a number.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import orjson

from kprov.cluster.api.schema.known_fields import (
    LIST,
    MAP,
    SCALAR,
    STRUCT,
    fields_of,
    is_struct,
    memo_key,
    shape,
    spec_type,
)

__all__ = ["GoTypeError", "check_go_types", "go_type_name"]

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_SCALAR_ZERO: Mapping[str, Any] = {
    "string": "",
    "int32": 0,
    "int64": 0,
    "float64": 0,
    "bool": False,
    "bytes": "",
}
_SPECIAL_GO_NAMES = {
    "Time": "v1.Time",
    "MicroTime": "v1.MicroTime",
    "Duration": "v1.Duration",
    "Quantity": "resource.Quantity",
    "IntOrString": "intstr.IntOrString",
    "RawExtension": "runtime.RawExtension",
    "FieldsV1": "v1.FieldsV1",
    "StringList": "v1.ExtraValue",
    "bytes": "[]uint8",
}
_RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))"
)


class GoTypeError(ValueError):
    """A value Go's decoder would refuse; ``str()`` is its message (after ``json: ``...)."""


def go_type_name(type_name: str) -> str:
    """The Go spelling of a schema type: ``[]core.Container`` -> ``[]v1.Container``."""
    base = type_name.lstrip("*")
    if base.startswith("[]"):
        return "[]" + go_type_name(base[2:])
    if base.startswith("map[string]"):
        return "map[string]" + go_type_name(base[len("map[string]") :])
    if base in _SPECIAL_GO_NAMES:
        return _SPECIAL_GO_NAMES[base]
    if "." in base:  # package.Type: the API packages are named after their version
        package, _, name = base.partition(".")
        return f"{'v2' if package == 'autoscalingv2' else 'v1'}.{name}"
    return base


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@functools.cache
def _struct_name(base: str) -> str:
    return base.rpartition(".")[2]


class _Walk:
    def __init__(self) -> None:
        self.struct = ""  # the innermost Go struct's name (encoding/json's errorContext.Struct)
        self.fields: list[str] = []  # JSON field names from the root (its FieldStack)

    def fail(self, value: Any, type_name: str, detail: str = "") -> GoTypeError:
        what = _json_kind(value) + (f" {detail}" if detail else "")
        go_type = go_type_name(type_name)
        if not self.fields and not self.struct:
            return GoTypeError(f"json: cannot unmarshal {what} into Go value of type {go_type}")
        return GoTypeError(
            f"json: cannot unmarshal {what} into Go struct field {self.struct}.{'.'.join(self.fields)}"
            f" of type {go_type}"
        )

    def value(self, type_name: str, value: Any) -> None:
        if value is None:
            return
        kind, inner = shape(type_name)
        if kind == STRUCT:
            if not isinstance(value, dict):
                raise self.fail(value, inner)
            self._struct(inner, value)
        elif kind == LIST:
            if not isinstance(value, list):
                raise self.fail(value, "[]" + inner)
            self._elements(inner, value, enumerate(value))
        elif kind == MAP:
            if not isinstance(value, dict):
                raise self.fail(value, "map[string]" + inner)
            self._elements(inner, value, value.items())
        elif kind == SCALAR:
            self._scalar(inner, value)

    def _elements(self, element: str, container: Any, items: Any) -> None:
        zero = _SCALAR_ZERO.get(element.lstrip("*")) if not element.startswith("*") else None
        for key, item in list(items):
            if item is None:
                if zero is not None:
                    container[key] = zero
                elif is_struct(element) and not element.startswith("*"):
                    container[key] = {}
                continue
            if element == "string" and isinstance(item, str):
                continue  # (labels, annotations, args: checked here without a call)
            self.value(element, item)

    def _struct(self, base: str, value: dict[str, Any], skip: str = "") -> None:
        known = fields_of(base)
        outer = self.struct
        name = _struct_name(base)
        fields = self.fields
        for key, item in value.items():
            spec = known.get(key)
            if spec is None or item is None or key == skip:
                continue  # unknown fields are field validation's; null leaves the zero value
            kind, inner = shape(spec.type)
            if kind == SCALAR and inner == "string" and isinstance(item, str):
                continue  # the commonest field, checked here without a call
            self.struct = name
            fields.append(key)
            self.value(spec.type, item)
            fields.pop()
        self.struct = outer

    def _scalar(self, base: str, value: Any) -> None:
        if base == "string" or base == "bytes":
            if not isinstance(value, str):
                raise self.fail(value, base)
        elif base in _INT_RANGES:
            low, high = _INT_RANGES[base]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(value, base)
            if isinstance(value, float) or not low <= value <= high:
                raise self.fail(value, base, repr(value))
        elif base == "float64":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(value, base)
        elif base == "bool":
            if not isinstance(value, bool):
                raise self.fail(value, base)
        elif base in ("Time", "MicroTime"):
            if not isinstance(value, str):
                raise self.fail(value, "string")
            _check_time(value)
        elif base == "IntOrString":
            if isinstance(value, str):
                return
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(value, "int32")
            if isinstance(value, float) or not -(2**31) <= value < 2**31:
                raise self.fail(value, "int32", repr(value))
        elif base == "Quantity":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise GoTypeError(
                    "quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                )
        elif base == "Duration":
            if not isinstance(value, str):
                raise self.fail(value, "string")
        elif base == "StringList":
            if not isinstance(value, list):
                raise self.fail(value, base)
            self._elements("string", value, enumerate(value))


def _check_time(text: str) -> None:
    """time.Parse(time.RFC3339, text)'s refusals: a range error or a layout mismatch."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise GoTypeError(f'parsing time "{text}" as "{_RFC3339_LAYOUT}": cannot parse "{text}" as "2006"')
    month, day, hour, minute, second = (int(match.group(n)) for n in (2, 3, 4, 5, 6))
    for name, number, low, high in (
        ("month", month, 1, 12),
        ("day", day, 1, 31),
        ("hour", hour, 0, 23),
        ("minute", minute, 0, 59),
        ("second", second, 0, 59),
    ):
        if not low <= number <= high:
            raise GoTypeError(f'parsing time "{text}": {name} out of range')


def check_go_types(type_name: str, obj: Any) -> None:
    """Raise :class:`GoTypeError` for the first value of ``obj`` its Go type ``type_name``
    (``core.ConfigMap``) cannot hold; ``null``s in lists and maps of scalars become Go's zero
    values in place. A type the schema does not know (a custom resource) is not checked."""
    if not is_struct(type_name) or not isinstance(obj, dict):
        return
    spec_of = spec_type(type_name)
    key = memo_key(obj.get("spec")) if spec_of else None
    # A spec seen before is not walked again (a controller's pods share one); a null in the
    # key may stand for a NaN, which a string field would refuse: walked.
    if key is not None and b"null" not in key and _holds(spec_of, key):
        _Walk()._struct(type_name.lstrip("*"), obj, skip="spec")
        return
    _Walk().value(type_name, obj)


@functools.lru_cache(maxsize=256)
def _holds(type_name: str, data: bytes) -> bool:
    """Whether the value whose JSON is ``data`` passes the check unchanged (no refusal, no
    ``null`` turned into a zero value): then a value of the same JSON needs no walk."""
    value = orjson.loads(data)
    try:
        _Walk()._struct(type_name, value)
    except GoTypeError:
        return False
    return orjson.dumps(value) == data
