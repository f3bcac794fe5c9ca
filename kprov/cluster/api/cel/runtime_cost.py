"""A rule's runtime cost on the value it is about to judge, for cel-go's per-call limit.

kube-apiserver evaluates an x-kubernetes-validations rule with cel-go's cost tracker and
stops it past 1,000,000 units (``PerCallLimit``): a rule nesting comprehensions over a large
list is refused ("call cost exceeds limit") rather than run for seconds. The runtime's
binding (cel-cpp, :mod:`.environment`) exposes no cost tracking, so this module estimates
the cost before the runtime evaluates, from the rule's syntax tree (:mod:`.parser`) and the
sizes in the value itself: a comprehension (``all``, ``exists``, ``exists_one``, ``map``,
``filter``) over a list or map of n entries costs its range plus n times (one loop step +
its body), the body costed with its variable bound to the range's first entry; a selection,
index, identifier or call costs 1 plus its parts, a literal nothing. Like cel-go's tracker
it counts steps, not time; it is an upper estimate (both branches of ``&&``/``||``/``?:``
count), never an evaluation.

Estimating costs one walk of the rule's tree per comprehension level (a few microseconds for
the rules CRDs carry); rules without comprehensions are never estimated, and
:func:`within_limit` skips the estimate when a cheap bound already keeps it under the limit:
the estimate is at most the tree's size times the value's entry count to the power of the
comprehensions' nesting depth (a comprehension iterates at most every entry the value
holds), so a small value (a route's handful of parentRefs) needs no walk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.cel import parser as cel

__all__ = [
    "COMPREHENSIONS",
    "PER_CALL_LIMIT",
    "Comprehension",
    "LoopShape",
    "entries_over",
    "loop_shape",
    "loop_tree",
    "runtime_cost",
    "tree_cost",
    "within_limit",
]

PER_CALL_LIMIT = 1_000_000  # cel-go's per-evaluation limit as kube-apiserver sets it
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_UNKNOWN = object()


def loop_tree(rule: str) -> cel.Node | None:
    """The syntax tree of a rule that may loop (calls a comprehension), else None: only those
    are estimated. A rule this parser cannot read is left to the binding (None)."""
    squeezed = "".join(rule.split())
    if not any(f".{name}(" in squeezed for name in COMPREHENSIONS):
        return None
    try:
        return cel.parse(rule)
    except cel.CelSyntaxError:
        return None


@dataclass(frozen=True)
class LoopShape:
    """What bounds a looping rule's estimate: its tree's size and comprehension depth."""

    size: int
    depth: int

    @property
    def entries_cap(self) -> int:
        """The most entries a value may hold for the bound to stay under the limit."""
        return int((PER_CALL_LIMIT / max(self.size, 1)) ** (1 / max(self.depth, 1)))


def _children(node: cel.Node) -> tuple[cel.Node, ...]:
    if isinstance(node, cel.Select):
        return (node.operand,)
    if isinstance(node, cel.Index):
        return (node.operand, node.index)
    if isinstance(node, cel.Construct):
        return node.parts
    if isinstance(node, cel.Call):
        return ((node.target,) if node.target is not None else ()) + node.args
    return ()


def loop_shape(tree: cel.Node) -> LoopShape:
    def walk(node: cel.Node) -> tuple[int, int]:
        sizes_depths = [walk(child) for child in _children(node)]
        size = 1 + sum(s for s, _ in sizes_depths)
        depth = max((d for _, d in sizes_depths), default=0)
        if isinstance(node, cel.Call) and node.function in COMPREHENSIONS and node.target is not None:
            depth += 1
        return size, depth

    size, depth = walk(tree)
    return LoopShape(size, depth)


_CONTAINERS = (dict, list)  # a tuple: isinstance with a union type is ~2x slower on 3.11


def entries_over(values: tuple[Any, ...], cap: int) -> bool:
    """Do ``values`` hold more than ``cap`` entries (list items and map entries, nested)?
    (Only containers are stacked: it runs on every create.)"""
    count = 0
    stack = [value for value in values if isinstance(value, _CONTAINERS)]
    push = stack.append
    while stack:
        value = stack.pop()
        count += len(value)
        if count > cap:
            return True
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, _CONTAINERS):
                push(item)
    return False


def within_limit(tree: cel.Node, shape: LoopShape, variables: Mapping[str, Any]) -> bool:
    """Is the rule's estimated cost on ``variables`` within the per-call limit? (the bound
    first, the estimate only for a value too large for it)"""
    if not entries_over(tuple(variables.values()), shape.entries_cap):
        return True
    return runtime_cost(tree, variables) <= PER_CALL_LIMIT


def runtime_cost(tree: cel.Node, variables: Mapping[str, Any]) -> int:
    """The estimated cost of the rule ``tree`` with ``variables`` (``self``, ``oldSelf``) bound."""
    return _cost(tree, dict(variables))


Comprehension = Callable[[cel.Call, dict[str, Any]], int]


def tree_cost(node: cel.Node, env: dict[str, Any], comprehension: Comprehension) -> int:
    """The cost of ``node`` by the rules above, a comprehension costed by ``comprehension``
    (from the value here; from the schema in :mod:`.estimated_cost`)."""
    if isinstance(node, cel.Literal):
        return 0
    if isinstance(node, cel.Ident):
        return 1
    if isinstance(node, cel.Select):
        return 1 + tree_cost(node.operand, env, comprehension)
    if isinstance(node, cel.Index):
        return 1 + tree_cost(node.operand, env, comprehension) + tree_cost(node.index, env, comprehension)
    if isinstance(node, cel.Construct):
        return 1 + sum(tree_cost(part, env, comprehension) for part in node.parts)
    if isinstance(node, cel.Call):
        if node.function in COMPREHENSIONS and node.target is not None and len(node.args) >= 2:
            return comprehension(node, env)
        own = tree_cost(node.target, env, comprehension) if node.target is not None else 0
        return 1 + own + sum(tree_cost(arg, env, comprehension) for arg in node.args)
    return 1


def _cost(node: cel.Node, env: dict[str, Any]) -> int:
    return tree_cost(node, env, _comprehension_cost)


def _comprehension_cost(node: cel.Call, env: dict[str, Any]) -> int:
    assert node.target is not None
    entries = _value(node.target, env)
    variable = node.args[0].name if isinstance(node.args[0], cel.Ident) else ""
    if isinstance(entries, Mapping):
        entries = list(entries)
    count = len(entries) if isinstance(entries, list) else 1
    inner = dict(env)
    if variable:
        inner[variable] = entries[0] if isinstance(entries, list) and entries else _UNKNOWN
    body = sum(_cost(arg, inner) for arg in node.args[1:])
    return _cost(node.target, env) + count * (1 + body)


def _value(node: cel.Node, env: dict[str, Any]) -> Any:
    """The value a variable, selection or index chain names, where the bindings tell it."""
    if isinstance(node, cel.Ident):
        return env.get(node.name, _UNKNOWN)
    if isinstance(node, cel.Select):
        operand = _value(node.operand, env)
        return operand.get(node.field, _UNKNOWN) if isinstance(operand, Mapping) else _UNKNOWN
    return _UNKNOWN  # (an index, a call: not followed)
