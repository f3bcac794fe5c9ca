"""Compiled predicates, the fast path of custom-object validation.

Each schema node gets, when compiled, ``ok(value)``: would validation add no cause here. It
is closed over only the keywords the node has and specialised for the common shapes (strings,
numbers, booleans, plain arrays and objects); anything rarer, and any value of an unexpected
type, is answered by ``walk_ok`` — the causes walk of :mod:`.structural` with its causes
discarded — so the answer is always exact and the causes stay one code path's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kprov.cluster.api.crd.value_formats import format_ok

if TYPE_CHECKING:
    from kprov.cluster.api.crd.schema_node import Node

__all__ = ["Walk", "checker"]

Walk = Callable[["Node", Any], bool]


def checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
    """``node``'s predicate: specialised for the common shapes, the walk for the rest."""
    if node.all_of or node.any_of or node.one_of or node.not_ is not None or node.int_or_string:
        return lambda value: walk_ok(node, value)
    build = {
        "string": _string_checker,
        "integer": _number_checker,
        "number": _number_checker,
        "boolean": _boolean_checker,
        "array": _array_checker,
        "object": _object_checker,
    }.get(node.type)
    if build is None:
        return lambda value: walk_ok(node, value)
    return build(node, walk_ok)


def _string_checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
    enum, max_length, min_length = node.enum, node.max_length, node.min_length
    pattern, fmt = node.pattern, node.format

    def ok(value: Any) -> bool:
        if type(value) is not str:
            return walk_ok(node, value)
        return not (
            (enum is not None and value not in enum)
            or (max_length is not None and len(value) > max_length)
            or (min_length is not None and len(value) < min_length)
            or (pattern is not None and pattern.search(value) is None)
            or (fmt and not format_ok(fmt, value))
        )

    return ok


def _number_checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
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
            return walk_ok(node, value)
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


def _boolean_checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
    enum = node.enum

    def ok(value: Any) -> bool:
        if type(value) is not bool:
            return walk_ok(node, value)
        return enum is None or value in enum

    return ok


def _array_checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
    if node.unique_items or node.list_type in ("set", "map") or node.enum is not None:
        return lambda value: walk_ok(node, value)
    max_items, min_items = node.max_items, node.min_items
    item_ok = node.items.ok if node.items is not None else None

    def ok(value: Any) -> bool:
        if type(value) is not list:
            return walk_ok(node, value)
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


def _object_checker(node: Node, walk_ok: Walk) -> Callable[[Any], bool]:
    if node.enum is not None or node.embedded:
        return lambda value: walk_ok(node, value)
    max_properties, min_properties, required = node.max_properties, node.min_properties, node.required
    children = {key: child.ok for key, child in node.properties.items()}
    additional_ok = node.additional.ok if not isinstance(node.additional, bool | None) else None

    def ok(value: Any) -> bool:
        if type(value) is not dict:
            return walk_ok(node, value)
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
