"""The known-field schema of the served kinds, and strict field validation over it.

Design: `schema_types.json` (made by `schema_extract.py` from the public Go type
definitions) lists, per struct, each JSON field with its type shape, protobuf number,
omitempty flag and patch/list markers. This module is the only reader of that file: it turns
entries into `FieldSpec`s (inline structs flattened into their parent, as JSON sees them)
and answers "which fields does this kind know" for strict decoding (`unknown_fields`,
`drop_unknown`), strategic merge patch (merge keys), protobuf decoding and OpenAPI.
Type shapes: scalars (`string`, `int32`, `int64`, `bool`, `float64`, `bytes`), special
scalars (`Quantity`, `IntOrString`, `Time`, `MicroTime`, `Duration`), free-form
(`RawExtension`, `FieldsV1`, `any`), `*T`, `[]T`, `map[string]T`, and struct names
(`core.PodSpec`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

import orjson

from kprov.cluster.api.resources import ResourceInfo

__all__ = [
    "FREE_FORM",
    "FieldSpec",
    "drop_unknown",
    "element_type",
    "fields_of",
    "inline_members",
    "is_struct",
    "memo_key",
    "own_fields",
    "raw_types",
    "root_type",
    "shape",
    "strict_decoding_message",
    "type_for_kind",
    "unknown_fields",
    "unknown_fields_of",
]

FREE_FORM = frozenset({"any", "RawExtension", "FieldsV1"})
_GROUP_PACKAGES = {
    "": "core",
    "apps": "apps",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
    "events.k8s.io": "events",
    "authorization.k8s.io": "authorization",
    "autoscaling": "autoscaling",
    "policy": "policy",
    "meta.k8s.io": "meta",
    "authentication.k8s.io": "authentication",
    "rbac.authorization.k8s.io": "rbac",
    "batch": "batch",
    "storage.k8s.io": "storage",
    "networking.k8s.io": "networking",
    "scheduling.k8s.io": "scheduling",
    "node.k8s.io": "node",
    "admissionregistration.k8s.io": "admissionregistration",
    "certificates.k8s.io": "certificates",
    "flowcontrol.apiserver.k8s.io": "flowcontrol",
}


@dataclass(frozen=True)
class FieldSpec:
    """One JSON field of a struct."""

    name: str
    type: str
    proto: int | None = None
    omitempty: bool = False
    patch_strategy: str = ""
    merge_key: str = ""
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    default: Any = None  # +default (a JSON literal): what server-side apply assumes for a missing key field
    inline_of: str = ""  # for fields flattened from an inline struct: that struct's proto field

    @property
    def pointer(self) -> bool:
        return self.type.startswith("*")

    @property
    def base(self) -> str:
        """The type without a leading pointer."""
        return self.type.lstrip("*")


@functools.cache
def raw_types() -> Mapping[str, Mapping[str, Any]]:
    text = importlib_resources.files("kprov.cluster.api.schema").joinpath("schema_types.json").read_text()
    return json.loads(text)["types"]


def _spec(name: str, raw: Mapping[str, Any], inline_of: str = "") -> FieldSpec:
    return FieldSpec(
        name=name,
        type=raw["t"],
        proto=raw.get("p"),
        omitempty=bool(raw.get("o")),
        patch_strategy=raw.get("s", ""),
        merge_key=raw.get("k", ""),
        list_type=raw.get("lt", ""),
        list_map_keys=tuple(raw.get("lk", ())),
        default=raw.get("d"),
        inline_of=inline_of,
    )


@functools.cache
def fields_of(type_name: str) -> Mapping[str, FieldSpec]:
    """JSON field name -> FieldSpec, inline structs flattened. Unknown type -> empty."""
    raw = raw_types().get(type_name.lstrip("*"), {})
    fields: dict[str, FieldSpec] = {}
    for name, spec in raw.items():
        if name.startswith("$inline:"):
            for inner in fields_of(spec["t"]).values():
                fields[inner.name] = FieldSpec(**{**inner.__dict__, "inline_of": name})
        else:
            fields[name] = _spec(name, spec)
    return fields


@functools.cache
def inline_members(type_name: str) -> Mapping[str, FieldSpec]:
    """The inline struct entries of a type (`$inline:VolumeSource` -> spec), for protobuf."""
    raw = raw_types().get(type_name.lstrip("*"), {})
    return {name: _spec(name, spec) for name, spec in raw.items() if name.startswith("$inline:")}


def own_fields(type_name: str) -> Mapping[str, FieldSpec]:
    """Fields declared directly (not flattened), for protobuf where inline structs are messages."""
    raw = raw_types().get(type_name.lstrip("*"), {})
    return {name: _spec(name, spec) for name, spec in raw.items() if not name.startswith("$inline:")}


def is_struct(type_name: str) -> bool:
    return type_name.lstrip("*") in raw_types()


def element_type(type_name: str) -> str:
    """`[]core.Container` -> `core.Container`; `map[string]Quantity` -> `Quantity`."""
    base = type_name.lstrip("*")
    if base.startswith("[]"):
        return base[2:].lstrip("*")
    if base.startswith("map[string]"):
        return base[len("map[string]") :].lstrip("*")
    return base


# Group-versions beside a group's first one whose types live in their own package.
_VERSION_PACKAGES = {("autoscaling", "v2"): "autoscalingv2"}


@functools.lru_cache(maxsize=1024)  # (four lookups a write: the body checks, the memo keys)
def type_for_kind(group: str, kind: str, version: str = "") -> str:
    package = _VERSION_PACKAGES.get((group, version)) or _GROUP_PACKAGES.get(group, group)
    return f"{package}.{kind}"


def root_type(info: ResourceInfo) -> str:
    return type_for_kind(info.group, info.kind, info.version)


# A type's shape for the walks over a body (here and in go_types.py): what to do with a
# value of it, found once per type.
SKIP, LIST, MAP, STRUCT, SCALAR = 0, 1, 2, 3, 4
_NESTED = frozenset({LIST, MAP, STRUCT})


@functools.cache
def shape(type_name: str) -> tuple[int, str]:
    """(kind, element, struct or scalar type) of a schema type: ``[]core.Container`` ->
    (list, ``core.Container``); a struct -> (struct, its name); a scalar -> (scalar, its
    type); a free-form type -> (skip, "")."""
    base = type_name.lstrip("*")
    if base in FREE_FORM:
        return SKIP, ""
    if base.startswith("[]"):
        return LIST, base[2:]
    if base.startswith("map[string]"):
        return MAP, base[len("map[string]") :]
    if is_struct(base):
        return STRUCT, base
    return SCALAR, base


@functools.cache
def spec_type(root: str) -> str:
    """The struct type of a kind's ``spec`` ("" when it has none)."""
    spec = fields_of(root.lstrip("*")).get("spec")
    if spec is None:
        return ""
    kind, inner = shape(spec.type)
    return inner if kind == STRUCT else ""


# A path from the root as a chain of (parent, step, key) triples (step: "." a field, "["
# an index or a map key), spelled out only for a field that is reported: a walk over a
# whole object builds no strings.
_Path = tuple[Any, str, Any] | None


def _spelled(path: _Path) -> str:
    segments: list[str] = []
    while path is not None:
        path, step, key = path
        segments.append(f".{key}" if step == "." else f"[{key}]")
    return "".join(reversed(segments))


def _walk(type_name: str, value: Any, path: _Path, found: list[str], drop: bool) -> None:
    if value is None:
        return
    kind, inner = shape(type_name)
    if kind == STRUCT:
        if not isinstance(value, dict):
            return
        known = fields_of(inner)
        for key in list(value):
            spec = known.get(key)
            if spec is None:
                found.append(_spelled((path, ".", key)))
                if drop:
                    del value[key]
            else:
                item = value[key]
                if item is not None and shape(spec.type)[0] in _NESTED:
                    _walk(spec.type, item, (path, ".", key), found, drop)
    elif kind == LIST and isinstance(value, list) and shape(inner)[0] in _NESTED:
        for index, item in enumerate(value):
            _walk(inner, item, (path, "[", index), found, drop)
    elif kind == MAP and isinstance(value, dict) and shape(inner)[0] in _NESTED:
        for key, item in value.items():
            _walk(inner, item, (path, "[", key), found, drop)


def _walk_root(root: str, obj: Any, found: list[str], drop: bool) -> None:
    """:func:`_walk` from a kind's root type, its ``spec`` left out when a spec of the same
    JSON was walked before and had no unknown field (a controller's objects share one)."""
    spec_of = spec_type(root)
    key = memo_key(obj.get("spec")) if spec_of and isinstance(obj, dict) else None
    if key is None or not _known_throughout(spec_of, key):
        _walk(root, obj, None, found, drop)
        return
    known = fields_of(root)
    for name in list(obj):
        if name == "spec":
            continue
        spec = known.get(name)
        if spec is None:
            found.append(f".{name}")
            if drop:
                del obj[name]
        elif obj[name] is not None:
            _walk(spec.type, obj[name], (None, ".", name), found, drop)


_MEMO_MAX_BYTES = 64 * 1024  # larger values are walked every time
_PLAIN_JSON_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def memo_key(value: Any) -> bytes | None:
    """A non-empty object's JSON as the key of a memo, or None if it cannot be one (not an
    object, not plain JSON, or too big). Dates and times (YAML's timestamps) are refused, not
    written as strings; a NaN or infinity (YAML's ``.nan``) is written as ``null``."""
    if not isinstance(value, dict) or not value:
        return None
    try:
        data = orjson.dumps(value, option=_PLAIN_JSON_ONLY)
    except TypeError:
        return None
    return data if len(data) <= _MEMO_MAX_BYTES else None


@functools.lru_cache(maxsize=256)
def _known_throughout(type_name: str, data: bytes) -> bool:
    """Whether the value whose JSON is ``data`` has only fields ``type_name`` defines."""
    found: list[str] = []
    _walk(type_name, orjson.loads(data), None, found, drop=False)
    return not found


def unknown_fields(info: ResourceInfo, obj: Mapping[str, Any]) -> list[str]:
    """Paths (`.spec.foo`, `.spec.containers[0].bar`) of fields the kind does not define."""
    found: list[str] = []
    _walk_root(root_type(info), obj, found, drop=False)
    return found


def unknown_fields_of(type_name: str, value: Any, path: str = "") -> list[str]:
    """Paths under ``path`` of the fields of ``value`` the type ``type_name`` (``meta.ObjectMeta``)
    does not define."""
    found: list[str] = []
    _walk(type_name, value, (None, ".", path) if path else None, found, drop=False)
    return found


def drop_unknown(info: ResourceInfo, obj: dict[str, Any]) -> list[str]:
    """Remove unknown fields in place (fieldValidation=Ignore); returns the dropped paths."""
    found: list[str] = []
    _walk_root(root_type(info), obj, found, drop=True)
    return found


def strict_decoding_message(info: ResourceInfo, paths: list[str]) -> str:
    """The real server's wording for fieldValidation=Strict (a 400 BadRequest)."""
    fields = ", ".join(f'unknown field "{p.lstrip(".")}"' for p in paths)
    return (
        f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
        f"strict decoding error: {fields}"
    )
