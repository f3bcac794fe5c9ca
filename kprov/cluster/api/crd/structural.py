"""Structural schemas of custom resources: the compiled schema tree, and validation.

Design: a CRD version's ``openAPIV3Schema`` is compiled once (when the registry is rebuilt)
into a tree of frozen `Node`s: keywords parsed, patterns compiled, properties indexed. Three
passes then walk the object and the tree together, as kube-apiserver does for custom objects,
in its order: prune and default (:mod:`.pruning`), then validate (here). Validation causes are
worded as kube-apiserver words them for custom objects (``spec.size: Invalid value:
"string": spec.size in body must be of type integer: "string"``, ``Required value``,
``Unsupported value``, ``Too long``, ``Too many``, ``Duplicate value``), so clients that match
on them work. x-kubernetes-validations (CEL) rules are carried on the node and run by
:mod:`.cel`.

Speed: valid objects are the common case, so each node also gets, when compiled, an exact
predicate ``ok(value)`` (:mod:`.fast_checks`); ``validate`` asks it first and walks the tree
for causes only when it says no.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from kprov.cluster.api.crd.cel import RuleError, RuleSet, compile_rules, evaluate_rules, self_type
from kprov.cluster.api.crd.fast_checks import checker
from kprov.cluster.api.crd.folded import has_transition_rules
from kprov.cluster.api.crd.folded import holds as folded_holds
from kprov.cluster.api.crd.schema_node import NO_DEFAULT, Node, with_predicate
from kprov.cluster.api.crd.value_formats import format_ok, number_text, type_name, type_ok
from kprov.cluster.api.errors import Cause
from kprov.cluster.api.validation.field_errors import Errors, go_value

__all__ = ["NO_DEFAULT", "ROOT_KEPT", "ROOT_KEPT_SET", "Node", "compile_schema", "join_path", "validate"]

ROOT_KEPT = ("apiVersion", "kind", "metadata")
ROOT_KEPT_SET = frozenset(ROOT_KEPT)


def compile_schema(raw: Mapping[str, Any] | None) -> Node:
    """The compiled tree of ``raw`` (an empty schema accepts anything and prunes nothing)."""
    if not isinstance(raw, Mapping):
        return with_predicate(Node(preserve_unknown=True), _predicate)
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
            tuple(r for r in raw.get("x-kubernetes-validations") or () if isinstance(r, Mapping)),
            self_type(raw),
        )
    except RuleError:
        rules = RuleSet()
    properties = {
        str(k): compile_schema(v) for k, v in (raw.get("properties") or {}).items() if isinstance(v, Mapping)
    }
    items = compile_schema(raw["items"]) if isinstance(raw.get("items"), Mapping) else None
    below = [
        *properties.values(),
        *([items] if items else []),
        *([additional] if isinstance(additional, Node) else []),
    ]
    node = Node(
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
        default=copy.deepcopy(raw["default"]) if "default" in raw else NO_DEFAULT,
        all_of=nodes("allOf"),
        any_of=nodes("anyOf"),
        one_of=nodes("oneOf"),
        not_=compile_schema(raw["not"]) if isinstance(raw.get("not"), Mapping) else None,
        rules=rules,
        has_rules=bool(rules) or any(n.has_rules for n in below),
        has_defaults="default" in raw or any(n.has_defaults for n in below),
        raw=raw,
    )
    return with_predicate(node, _predicate)


def _predicate(node: Node) -> Callable[[Any], bool]:
    return checker(node, _walk_ok)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- validation --------------------------------------------------------------------------------
def validate(
    node: Node, obj: Any, errors: Errors, path: str = "", *, root: bool = True, old: Any = NO_DEFAULT
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
        _rules(node, obj, old, old is not NO_DEFAULT, path, errors)


def _root_ok(node: Node, obj: dict[str, Any]) -> bool:
    for key, child in node.properties.items():
        if key in ROOT_KEPT or key not in obj:
            continue
        if not child.ok(obj[key]):
            return False
    return all(key in obj for key in node.required)


def _root_causes(node: Node, obj: dict[str, Any], errors: Errors) -> None:
    for key, child in node.properties.items():
        if key in ROOT_KEPT or key not in obj:
            continue
        _validate(child, obj[key], key, errors)
    for key in node.required:
        if key not in obj:
            errors.required(key)


def _rules(node: Node, value: Any, old: Any, has_old: bool, path: str, errors: Errors) -> None:
    if not node.has_rules or value is None:
        return
    if (not has_old or not has_transition_rules(node)) and folded_holds(node, value):
        # every rule a create runs below here holds, answered in one runtime call (an update
        # runs the same rules where none below names oldSelf)
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
                _rules(child, item, old_map.get(key), key in old_map, join_path(path, key), errors)
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
    if not type_ok(node, value):
        expected = "integer,string" if node.int_or_string else node.type
        errors.causes.append(_type_cause(path, type_name(value), expected))
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
            errors.invalid(path, value, f"{path} in body should be less than {number_text(node.maximum)}")
        elif value > node.maximum:
            errors.invalid(
                path, value, f"{path} in body should be less than or equal to {number_text(node.maximum)}"
            )
    if node.minimum is not None:
        if node.exclusive_minimum and value <= node.minimum:
            errors.invalid(path, value, f"{path} in body should be greater than {number_text(node.minimum)}")
        elif value < node.minimum:
            errors.invalid(
                path, value, f"{path} in body should be greater than or equal to {number_text(node.minimum)}"
            )
    if node.multiple_of and (value / node.multiple_of) != int(value / node.multiple_of):
        errors.invalid(
            path, value, f"{path} in body should be a multiple of {number_text(node.multiple_of)}"
        )
    if node.format == "int32" and not -(2**31) <= value < 2**31:
        errors.invalid(path, value, f"{path} in body must be of type int32: {number_text(value)!r}")


def _string(node: Node, value: str, path: str, errors: Errors) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        errors.causes.append(_too_long(path, node.max_length))
    if node.min_length is not None and len(value) < node.min_length:
        errors.invalid(path, value, f"{path} in body should be at least {node.min_length} chars long")
    if node.pattern is not None and node.pattern.search(value) is None:
        errors.invalid(path, value, f"{path} in body should match '{node.pattern_text}'")
    if node.format and not node.int_or_string and not format_ok(node.format, value):
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
            errors.required(join_path(path, key))
    if node.embedded:
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                errors.required(join_path(path, key), "must not be empty")
    for key, item in value.items():
        child = node.properties.get(key)
        if child is None and isinstance(node.additional, Node):
            child = node.additional
        if child is not None:
            _validate(child, item, join_path(path, key), errors)


def _walk_ok(node: Node, value: Any) -> bool:
    """The exact answer for any node and value: the causes walk, its causes discarded."""
    trial = Errors()
    _validate(node, value, "", trial)
    return not trial.causes
