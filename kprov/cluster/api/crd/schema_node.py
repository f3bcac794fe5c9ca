"""The compiled schema node of a structural schema, as a type of its own.

Design: :mod:`.structural` compiles a CRD version's schema into a tree of these frozen
nodes and validates with it; :mod:`.fast_checks` and :mod:`.value_formats` read them. The
type lives below all three so none of them imports another to name it (no import circle,
not even one for type checking). A node's fast predicate ``ok`` needs the validation walk
of :mod:`.structural`, so the compiler attaches it (:func:`with_predicate`) rather than the
constructor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.crd.cel import RuleSet

__all__ = ["NO_DEFAULT", "Node", "with_predicate"]

NO_DEFAULT = object()


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
    default: Any = NO_DEFAULT
    all_of: tuple[Node, ...] = ()
    any_of: tuple[Node, ...] = ()
    one_of: tuple[Node, ...] = ()
    not_: Node | None = None
    rules: RuleSet = field(default_factory=RuleSet, compare=False, repr=False)
    has_rules: bool = False  # this node or one below it has CEL rules
    has_defaults: bool = False  # this node or one below it has a default
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # what is built from the node on first use and kept with it (:mod:`.folded`'s program)
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    # would validation add no cause for this value: set once by `with_predicate`, which
    # :func:`.structural.compile_schema` calls on every node it builds
    ok: Callable[[Any], bool] = field(init=False, compare=False, repr=False)

    @property
    def keeps_unknown(self) -> bool:
        return self.preserve_unknown or self.additional is True


def with_predicate(node: Node, build: Callable[[Node], Callable[[Any], bool]]) -> Node:
    """``node`` with its predicate ``ok`` set to ``build(node)`` (frozen: set once, here)."""
    object.__setattr__(node, "ok", build(node))
    return node
