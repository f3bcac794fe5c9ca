"""Structural schemas of custom resources: pruning, defaulting and validation.

Design: a CRD version's ``openAPIV3Schema`` is compiled once (when the registry is rebuilt)
into a tree of frozen `Node`s: keywords parsed, patterns compiled, properties indexed. The
three passes then walk the object and the tree together, as kube-apiserver does for custom
objects, in its order: prune (fields the schema does not declare go, unless
``x-kubernetes-preserve-unknown-fields`` or ``additionalProperties``; ``apiVersion``,
``kind`` and ``metadata`` stay at the root and in embedded resources), default (``default``
values for absent fields, and for nulls where nulls are not allowed), validate. Validation
causes are worded as kube-apiserver words them for custom objects (``spec.size: Invalid
value: "string": spec.size in body must be of type integer: "string"``, ``Required value``,
``Unsupported value``, ``Too long``, ``Too many``, ``Duplicate value``), so clients that
match on them work. x-kubernetes-validations (CEL) rules are carried on the node and run by
:mod:`.crd_cel`.

Speed: valid objects are the common case, so each node also gets, when compiled, an exact
predicate ``ok(value)`` — "would validation add no cause here" — closed over only the
keywords the node has (no field paths built, no cause objects). ``validate`` asks the
predicate first and walks the tree for causes only when it says no; nodes of rare shapes
(allOf/anyOf/oneOf/not, int-or-string, sets and map lists, values of an unexpected type)
answer through that walk itself, so the causes and their order are one code path's. Pruning
descends only into objects and arrays (a scalar has nothing to prune).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.crd.cel import CompiledRule, RuleError, compile_rules, evaluate_rules
from kprov.cluster.api.errors import Cause
from kprov.cluster.api.schema.known_fields import unknown_fields_of
from kprov.cluster.api.validation.field_errors import Errors, go_value

__all__ = ["Node", "compile_schema", "default", "lacks_defaults", "prune", "unknown_metadata", "validate"]

_MISSING = object()
_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_ROOT_KEPT_SET = frozenset(_ROOT_KEPT)
_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(frozen=True)
class Node:
    """One compiled schema node."""

    type: str = ""
    properties: Mapping[str, Node] = field(default_factory=dict)
    additional: Node | bool | None = None  # additionalProperties: a schema, true, or absent
    items: Node | None = None
    required: tuple[str, ...] = ()
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    format: str = ""
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    min_properties: int | None = None
    max_properties: int | None = None
    nullable: bool = False
    int_or_string: bool = False
    preserve_unknown: bool = False
    embedded: bool = False
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    default: Any = _MISSING
    all_of: tuple[Node, ...] = ()
    any_of: tuple[Node, ...] = ()
    one_of: tuple[Node, ...] = ()
    not_: Node | None = None
    rules: tuple[CompiledRule, ...] = field(default=(), compare=False, repr=False)
    has_rules: bool = False  # this node or one below it has CEL rules
    has_defaults: bool = False  # this node or one below it has a default
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # would validation add no cause for this value (see the design note)
    ok: Callable[[Any], bool] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", _checker(self))  # frozen: set once, at construction

    @property
    def keeps_unknown(self) -> bool:
        return self.preserve_unknown or self.additional is True


def compile_schema(raw: Mapping[str, Any] | None) -> Node:
    """The compiled tree of ``raw`` (an empty schema accepts anything and prunes nothing)."""
    if not isinstance(raw, Mapping):
        return Node(preserve_unknown=True)
    additional_raw = raw.get("additionalProperties")
    additional: Node | bool | None
    if isinstance(additional_raw, Mapping):
        additional = compile_schema(additional_raw)
    elif additional_raw is True:
        additional = True
    else:
        additional = None
    pattern = raw.get("pattern")
    compiled_pattern = None
    if isinstance(pattern, str):
        try:
            compiled_pattern = re.compile(pattern)
        except re.error:
            compiled_pattern = None
    enum = raw.get("enum")

    def nodes(key: str) -> tuple[Node, ...]:
        return tuple(compile_schema(s) for s in raw.get(key) or () if isinstance(s, Mapping))

    try:  # a CRD whose rules do not compile is rejected on write (validate_crd)
        rules = compile_rules(
            tuple(r for r in raw.get("x-kubernetes-validations") or () if isinstance(r, Mapping))
        )
    except RuleError:
        rules = ()
    properties = {
        str(k): compile_schema(v) for k, v in (raw.get("properties") or {}).items() if isinstance(v, Mapping)
    }
    items = compile_schema(raw["items"]) if isinstance(raw.get("items"), Mapping) else None
    below = [
        *properties.values(),
        *([items] if items else []),
        *([additional] if isinstance(additional, Node) else []),
    ]
    return Node(
        type=str(raw.get("type") or ""),
        properties=properties,
        additional=additional,
        items=items,
        required=tuple(str(r) for r in raw.get("required") or ()),
        enum=tuple(enum) if isinstance(enum, list) else None,
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        exclusive_minimum=bool(raw.get("exclusiveMinimum")),
        exclusive_maximum=bool(raw.get("exclusiveMaximum")),
        multiple_of=raw.get("multipleOf"),
        min_length=raw.get("minLength"),
        max_length=raw.get("maxLength"),
        pattern=compiled_pattern,
        pattern_text=str(pattern or ""),
        format=str(raw.get("format") or ""),
        min_items=raw.get("minItems"),
        max_items=raw.get("maxItems"),
        unique_items=bool(raw.get("uniqueItems")),
        min_properties=raw.get("minProperties"),
        max_properties=raw.get("maxProperties"),
        nullable=bool(raw.get("nullable")),
        int_or_string=bool(raw.get("x-kubernetes-int-or-string")),
        preserve_unknown=bool(raw.get("x-kubernetes-preserve-unknown-fields")),
        embedded=bool(raw.get("x-kubernetes-embedded-resource")),
        list_type=str(raw.get("x-kubernetes-list-type") or ""),
        list_map_keys=tuple(str(k) for k in raw.get("x-kubernetes-list-map-keys") or ()),
        default=copy.deepcopy(raw["default"]) if "default" in raw else _MISSING,
        all_of=nodes("allOf"),
        any_of=nodes("anyOf"),
        one_of=nodes("oneOf"),
        not_=compile_schema(raw["not"]) if isinstance(raw.get("not"), Mapping) else None,
        rules=rules,
        has_rules=bool(rules) or any(n.has_rules for n in below),
        has_defaults="default" in raw or any(n.has_defaults for n in below),
        raw=raw,
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- pruning -----------------------------------------------------------------------------------
def prune(node: Node, obj: Any, path: str = "", *, root: bool = True) -> list[str]:
    """Drop undeclared fields from ``obj`` in place; the dropped paths (``spec.foo``)."""
    found: list[str] = []
    _prune(node, obj, path, found, root)
    return found


def _prune(node: Node, value: Any, path: str, found: list[str], keep_meta: bool) -> None:
    if isinstance(value, dict):
        if not (node.keeps_unknown or isinstance(node.additional, Node)):
            extra = value.keys() - node.properties.keys()
            if not extra or (keep_meta and extra <= _ROOT_KEPT_SET):  # nothing to drop here
                for key, item in value.items():
                    if isinstance(item, dict | list) and not (keep_meta and key in _ROOT_KEPT_SET):
                        declared = node.properties[key]
                        _prune(declared, item, _join(path, key), found, declared.embedded)
                return
        for key in list(value):
            if keep_meta and key in _ROOT_KEPT:
                continue
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is None:
                if node.keeps_unknown:
                    continue
                found.append(_join(path, key))
                del value[key]
                continue
            item = value[key]
            if isinstance(item, dict | list):  # a scalar has nothing to prune
                _prune(child, item, _join(path, key), found, child.embedded)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _prune(node.items, item, f"{path}[{index}]", found, node.items.embedded)


def unknown_metadata(node: Node, obj: Any) -> list[str]:
    """Paths (``metadata.foo``, ``spec.template.metadata.bar``) of fields ObjectMeta does not
    define, in the root's metadata and every embedded resource's (upstream drops them on
    decode, and reports them under strict field validation)."""
    found: list[str] = []
    _unknown_metadata(node, obj, "", found, True)
    return found


def _unknown_metadata(node: Node, value: Any, path: str, found: list[str], resource: bool) -> None:
    if isinstance(value, dict):
        if resource and isinstance(value.get("metadata"), dict):
            meta = unknown_fields_of("meta.ObjectMeta", value["metadata"], _join(path, "metadata"))
            found.extend(p.lstrip(".") for p in meta)
        for key, item in value.items():
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is not None:
                _unknown_metadata(child, item, _join(path, key), found, child.embedded)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _unknown_metadata(node.items, item, f"{path}[{index}]", found, node.items.embedded)


# -- defaulting --------------------------------------------------------------------------------
def default(node: Node, value: Any) -> None:
    """Fill ``default`` values into ``value`` in place (absent fields, and nulls that are
    not allowed)."""
    if isinstance(value, dict):
        for key, child in node.properties.items():
            if not child.has_defaults:
                continue
            if child.default is not _MISSING and (
                key not in value or (value[key] is None and not child.nullable)
            ):
                value[key] = copy.deepcopy(child.default)
            if key in value:
                default(child, value[key])
        if isinstance(node.additional, Node) and node.additional.has_defaults:
            for key, item in value.items():
                if key not in node.properties:
                    default(node.additional, item)
    elif isinstance(value, list) and node.items is not None and node.items.has_defaults:
        for item in value:
            default(node.items, item)


def lacks_defaults(node: Node, value: Any) -> bool:
    """Whether :func:`default` would change ``value`` (a read-only walk: objects read from
    storage are only copied when it would)."""
    if not node.has_defaults:
        return False
    if isinstance(value, dict):
        for key, child in node.properties.items():
            if not child.has_defaults:
                continue
            if child.default is not _MISSING and (
                key not in value or (value[key] is None and not child.nullable)
            ):
                return True
            if key in value and lacks_defaults(child, value[key]):
                return True
        if isinstance(node.additional, Node):
            extra = (v for k, v in value.items() if k not in node.properties)
            return any(lacks_defaults(node.additional, v) for v in extra)
        return False
    if isinstance(value, list) and node.items is not None:
        return any(lacks_defaults(node.items, item) for item in value)
    return False


# -- validation --------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "object")


def _type_ok(node: Node, value: Any) -> bool:
    kind = node.type
    if node.int_or_string:
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if not kind:
        return True
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return _type_name(value) == kind


def _format_ok(fmt: str, value: str) -> bool:
    checks: dict[str, Callable[[str], object]] = {
        "date-time": lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")),
        "datetime": lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")),
        "date": lambda v: dt.date.fromisoformat(v),
        "ipv4": lambda v: ipaddress.IPv4Address(v),
        "ipv6": lambda v: ipaddress.IPv6Address(v),
        "cidr": lambda v: ipaddress.ip_network(v, strict=False),
        "uuid": lambda v: uuid.UUID(v),
        "byte": lambda v: base64.b64decode(v, validate=True),
    }
    patterns = {
        "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "hostname": r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$",
        "mac": r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$",
        "uri": r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$",
    }
    if fmt in checks:
        try:
            checks[fmt](value)
        except (ValueError, binascii.Error):
            return False
        return True
    if fmt in patterns:
        return re.match(patterns[fmt], value) is not None
    return True  # formats kube-apiserver does not check either


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate(
    node: Node, obj: Any, errors: Errors, path: str = "", *, root: bool = True, old: Any = _MISSING
) -> None:
    """Add a cause to ``errors`` for every way ``obj`` breaks the schema; then, if it has
    none, for every CEL rule it breaks (``old``: the object before an update)."""
    before = len(errors.causes)
    if root and isinstance(obj, dict):
        if not _root_ok(node, obj):
            _root_causes(node, obj, errors)
    elif not node.ok(obj):
        _validate(node, obj, path, errors)
    if node.has_rules and len(errors.causes) == before:
        _rules(node, obj, old, old is not _MISSING, path, errors)


def _root_ok(node: Node, obj: dict[str, Any]) -> bool:
    for key, child in node.properties.items():
        if key in _ROOT_KEPT or key not in obj:
            continue
        if not child.ok(obj[key]):
            return False
    return all(key in obj for key in node.required)


def _root_causes(node: Node, obj: dict[str, Any], errors: Errors) -> None:
    for key, child in node.properties.items():
        if key in _ROOT_KEPT or key not in obj:
            continue
        _validate(child, obj[key], key, errors)
    for key in node.required:
        if key not in obj:
            errors.required(key)


def _rules(node: Node, value: Any, old: Any, has_old: bool, path: str, errors: Errors) -> None:
    if not node.has_rules or value is None:
        return
    if node.rules:
        errors.causes.extend(evaluate_rules(node.rules, value, old, has_old, path))
    if isinstance(value, dict):
        old_map = old if has_old and isinstance(old, dict) else {}
        for key, item in value.items():
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is not None and child.has_rules:
                _rules(child, item, old_map.get(key), key in old_map, _join(path, key), errors)
    elif isinstance(value, list) and node.items is not None and node.items.has_rules:
        keys = node.list_map_keys if node.list_type == "map" else ()
        olds: dict[str, Any] = {}
        if keys and has_old and isinstance(old, list):
            olds = {_map_key(o, keys): o for o in old if isinstance(o, dict)}
        for index, item in enumerate(value):
            key = _map_key(item, keys) if keys and isinstance(item, dict) else None
            _rules(node.items, item, olds.get(key or ""), key in olds, f"{path}[{index}]", errors)


def _map_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    return json.dumps([item.get(k) for k in keys])


def _validate(node: Node, value: Any, path: str, errors: Errors) -> None:  # noqa: C901 - one keyword each
    if value is None:
        if not node.nullable and (node.type or node.int_or_string):
            expected = "integer,string" if node.int_or_string else node.type
            errors.causes.append(_type_cause(path, "null", expected))
        return
    if not _type_ok(node, value):
        expected = "integer,string" if node.int_or_string else node.type
        errors.causes.append(_type_cause(path, _type_name(value), expected))
        return
    if node.enum is not None and value not in node.enum:
        errors.not_supported(path, value, [str(e) for e in node.enum])
    if isinstance(value, int | float) and not isinstance(value, bool):
        _numeric(node, value, path, errors)
    elif isinstance(value, str):
        _string(node, value, path, errors)
    elif isinstance(value, list):
        _array(node, value, path, errors)
    elif isinstance(value, dict):
        _object(node, value, path, errors)
    for sub in node.all_of:
        _validate(sub, value, path, errors)
    if node.any_of and not any(_passes(sub, value) for sub in node.any_of):
        errors.invalid(path, value, f"{path} in body must validate at least one schema (anyOf)")
    if node.one_of and sum(_passes(sub, value) for sub in node.one_of) != 1:
        errors.invalid(path, value, f"{path} in body must validate one and only one schema (oneOf)")
    if node.not_ is not None and _passes(node.not_, value):
        errors.invalid(path, value, f"{path} in body must not validate the schema (not)")


def _passes(node: Node, value: Any) -> bool:
    trial = Errors()
    _validate(node, value, "", trial)
    return not trial.causes


def _type_cause(path: str, actual: str, expected: str) -> Cause:
    return Cause(
        path,
        "FieldValueTypeInvalid",
        f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
    )


def _numeric(node: Node, value: float, path: str, errors: Errors) -> None:
    if node.maximum is not None:
        if node.exclusive_maximum and value >= node.maximum:
            errors.invalid(path, value, f"{path} in body should be less than {_number_text(node.maximum)}")
        elif value > node.maximum:
            errors.invalid(
                path, value, f"{path} in body should be less than or equal to {_number_text(node.maximum)}"
            )
    if node.minimum is not None:
        if node.exclusive_minimum and value <= node.minimum:
            errors.invalid(path, value, f"{path} in body should be greater than {_number_text(node.minimum)}")
        elif value < node.minimum:
            errors.invalid(
                path, value, f"{path} in body should be greater than or equal to {_number_text(node.minimum)}"
            )
    if node.multiple_of and (value / node.multiple_of) != int(value / node.multiple_of):
        errors.invalid(
            path, value, f"{path} in body should be a multiple of {_number_text(node.multiple_of)}"
        )
    if node.format == "int32" and not -(2**31) <= value < 2**31:
        errors.invalid(path, value, f"{path} in body must be of type int32: {_number_text(value)!r}")


def _string(node: Node, value: str, path: str, errors: Errors) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        errors.causes.append(_too_long(path, node.max_length))
    if node.min_length is not None and len(value) < node.min_length:
        errors.invalid(path, value, f"{path} in body should be at least {node.min_length} chars long")
    if node.pattern is not None and node.pattern.search(value) is None:
        errors.invalid(path, value, f"{path} in body should match '{node.pattern_text}'")
    if node.format and not node.int_or_string and not _format_ok(node.format, value):
        errors.causes.append(_format_cause(path, node.format, value))


def _too_long(path: str, limit: int) -> Cause:
    return Cause(path, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")


def _format_cause(path: str, fmt: str, value: str) -> Cause:
    quoted = go_value(value)
    return Cause(
        path,
        "FieldValueTypeInvalid",
        f"Invalid value: {quoted}: {path} in body must be of type {fmt}: {quoted}",
    )


def _array(node: Node, value: list[Any], path: str, errors: Errors) -> None:
    if node.max_items is not None and len(value) > node.max_items:
        errors.causes.append(
            Cause(
                path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {node.max_items} items"
            )
        )
    if node.min_items is not None and len(value) < node.min_items:
        errors.invalid(path, value, f"{path} in body should have at least {node.min_items} items")
    if node.unique_items or node.list_type == "set":
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                if node.list_type == "set":
                    errors.duplicate(f"{path}[{index}]", item)
                else:
                    errors.invalid(path, value, f"{path} in body shouldn't contain duplicates")
                    break
            seen.append(item)
    if node.list_type == "map" and node.list_map_keys:
        keys_seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = json.dumps({k: item.get(k) for k in node.list_map_keys}, sort_keys=True)
            if key in keys_seen:
                errors.duplicate(f"{path}[{index}]", {k: item.get(k) for k in node.list_map_keys})
            keys_seen.add(key)
    if node.items is not None:
        for index, item in enumerate(value):
            _validate(node.items, item, f"{path}[{index}]", errors)


def _object(node: Node, value: dict[str, Any], path: str, errors: Errors) -> None:
    if node.max_properties is not None and len(value) > node.max_properties:
        errors.causes.append(
            Cause(
                path,
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {node.max_properties} items",
            )
        )
    if node.min_properties is not None and len(value) < node.min_properties:
        errors.invalid(path, value, f"{path} in body should have at least {node.min_properties} properties")
    for key in node.required:
        if key not in value:
            errors.required(_join(path, key))
    if node.embedded:
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                errors.required(_join(path, key), "must not be empty")
    for key, item in value.items():
        child = node.properties.get(key)
        if child is None and isinstance(node.additional, Node):
            child = node.additional
        if child is not None:
            _validate(child, item, _join(path, key), errors)


# -- compiled predicates (the fast path of validate) --------------------------------------------
def _walk_ok(node: Node, value: Any) -> bool:
    """The exact answer for any node and value: the causes walk, its causes discarded."""
    trial = Errors()
    _validate(node, value, "", trial)
    return not trial.causes


def _checker(node: Node) -> Callable[[Any], bool]:
    """``node``'s predicate: specialised for the common shapes, the walk for the rest."""
    if node.all_of or node.any_of or node.one_of or node.not_ is not None or node.int_or_string:
        return lambda value: _walk_ok(node, value)
    build = {
        "string": _string_checker,
        "integer": _number_checker,
        "number": _number_checker,
        "boolean": _boolean_checker,
        "array": _array_checker,
        "object": _object_checker,
    }.get(node.type)
    if build is None:
        return lambda value: _walk_ok(node, value)
    return build(node)


def _string_checker(node: Node) -> Callable[[Any], bool]:
    enum, max_length, min_length = node.enum, node.max_length, node.min_length
    pattern, fmt = node.pattern, node.format

    def ok(value: Any) -> bool:
        if type(value) is not str:
            return _walk_ok(node, value)
        return not (
            (enum is not None and value not in enum)
            or (max_length is not None and len(value) > max_length)
            or (min_length is not None and len(value) < min_length)
            or (pattern is not None and pattern.search(value) is None)
            or (fmt and not _format_ok(fmt, value))
        )

    return ok


def _number_checker(node: Node) -> Callable[[Any], bool]:
    plain = (
        node.maximum is None
        and node.minimum is None
        and not node.multiple_of
        and node.format != "int32"
        and node.enum is None
    )
    kinds: tuple[type, ...] = (int,) if node.type == "integer" else (int, float)
    enum, maximum, minimum, multiple_of = node.enum, node.maximum, node.minimum, node.multiple_of

    def ok(value: Any) -> bool:
        if type(value) not in kinds:
            return _walk_ok(node, value)
        if plain:
            return True
        if enum is not None and value not in enum:
            return False
        if maximum is not None and (value > maximum or (node.exclusive_maximum and value >= maximum)):
            return False
        if minimum is not None and (value < minimum or (node.exclusive_minimum and value <= minimum)):
            return False
        if multiple_of and (value / multiple_of) != int(value / multiple_of):
            return False
        return not (node.format == "int32" and not -(2**31) <= value < 2**31)

    return ok


def _boolean_checker(node: Node) -> Callable[[Any], bool]:
    enum = node.enum

    def ok(value: Any) -> bool:
        if type(value) is not bool:
            return _walk_ok(node, value)
        return enum is None or value in enum

    return ok


def _array_checker(node: Node) -> Callable[[Any], bool]:
    if node.unique_items or node.list_type in ("set", "map") or node.enum is not None:
        return lambda value: _walk_ok(node, value)
    max_items, min_items = node.max_items, node.min_items
    item_ok = node.items.ok if node.items is not None else None

    def ok(value: Any) -> bool:
        if type(value) is not list:
            return _walk_ok(node, value)
        if (max_items is not None and len(value) > max_items) or (
            min_items is not None and len(value) < min_items
        ):
            return False
        if item_ok is not None:
            for item in value:
                if not item_ok(item):
                    return False
        return True

    return ok


def _object_checker(node: Node) -> Callable[[Any], bool]:
    if node.enum is not None or node.embedded:
        return lambda value: _walk_ok(node, value)
    max_properties, min_properties, required = node.max_properties, node.min_properties, node.required
    children = {key: child.ok for key, child in node.properties.items()}
    additional_ok = node.additional.ok if isinstance(node.additional, Node) else None

    def ok(value: Any) -> bool:
        if type(value) is not dict:
            return _walk_ok(node, value)
        if (max_properties is not None and len(value) > max_properties) or (
            min_properties is not None and len(value) < min_properties
        ):
            return False
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():
            child_ok = children.get(key, additional_ok)
            if child_ok is not None and not child_ok(item):
                return False
        return True

    return ok
