"""A rule's worst-case cost estimated from the CRD's schema, as kube-apiserver checks a CRD
when it is written (before any object exists).

kube-apiserver refuses a CustomResourceDefinition whose x-kubernetes-validations rules could
cost too much to evaluate: each rule's estimated cost, multiplied by how many times it may
run in one object (its node's *cardinality*), must stay within 10,000,000
(``StaticEstimatedCostLimit``) and the sum over the schema within 100,000,000
(``StaticEstimatedCRDCostLimit``). cel-go estimates the cost from the rule's checked tree
and the declared sizes; the CEL runtime's binding exposes no estimator, so this module
walks the rule's syntax tree (:mod:`.parser`) with the schema instead of a value, by the
same rules as :mod:`.runtime_cost`:

- a comprehension over a list or map costs its range plus, per possible entry, one loop step
  and its body (the loop variable bound to the items' schema, or the keys' for a map);
- the possible entries of a list (map) are its ``maxItems`` (``maxProperties``), else as many
  as the smallest serialized entry allows in a 3 MiB request (an unbounded list of strings:
  1,048,575), as kube-apiserver sizes unbounded lists;
- a node's cardinality is the product of its list and map ancestors' possible entries when
  all are bounded, else as many as its smallest serialized form allows in a request.

String operations are costed 1 each (cel-go costs them by length, a tenth of a unit per
character): the estimate is lower than cel-go's for string-heavy rules, so no CRD
kube-apiserver accepts is refused here on their account; loops, the costs that grow without
bound, are estimated as cel-go does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.cel import parser as cel
from kprov.cluster.api.cel.runtime_cost import tree_cost

__all__ = [
    "MAX_REQUEST_BYTES",
    "STATIC_ESTIMATED_COST_LIMIT",
    "STATIC_ESTIMATED_CRD_COST_LIMIT",
    "cardinality_of_child",
    "cost_error_message",
    "declared_cost",
    "estimated_cost",
    "max_entries",
]

MAX_REQUEST_BYTES = 3 * 1024 * 1024  # kube-apiserver's largest request body
STATIC_ESTIMATED_COST_LIMIT = 10_000_000  # one rule, times its cardinality
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000  # every rule of a version's schema together

Schema = Mapping[str, Any]


def _min_serialized_size(schema: Schema | None) -> int:
    """The fewest bytes a value of ``schema`` takes in JSON (``""``, ``[]``, ``{}``, ``0``, ``true``)."""
    if not schema:
        return 1
    if schema.get("nullable"):
        return 4  # null
    kind = schema.get("type")
    if kind in ("string", "array", "object"):
        return 2
    if kind == "boolean":
        return 4
    return 1


def max_entries(schema: Schema | None) -> int | None:
    """How many entries a list or map of ``schema`` may hold (declared, else what a request
    can carry); None for other values."""
    if not schema:
        return None
    kind = schema.get("type")
    if kind == "array":
        declared = schema.get("maxItems")
        if isinstance(declared, int):
            return declared
        return (MAX_REQUEST_BYTES - 2) // (_min_serialized_size(schema.get("items")) + 1)
    if kind == "object":
        declared = schema.get("maxProperties")
        if isinstance(declared, int):
            return declared
        values = schema.get("additionalProperties")
        if isinstance(values, Mapping):  # a map: `"k":v,` per entry at least
            return (MAX_REQUEST_BYTES - 2) // (_min_serialized_size(values) + 5)
        return len(schema.get("properties") or {})
    return None


def _declared_entries(schema: Schema) -> int | None:
    """The entries a list or map declares at most (None: unbounded)."""
    kind = schema.get("type")
    key = "maxItems" if kind == "array" else "maxProperties" if kind == "object" else ""
    value = schema.get(key) if key else None
    return value if isinstance(value, int) else None


def cardinality_of_child(parent_cardinality: int | None, parent: Schema, child: Schema,
                         through_entries: bool) -> int | None:
    """The cardinality of ``child`` (None: unbounded), reached from ``parent`` through its
    items or map values (``through_entries``) or a named property."""
    if not through_entries:
        return parent_cardinality
    declared = _declared_entries(parent)
    if parent_cardinality is None or declared is None:
        return None
    return parent_cardinality * declared


def _request_cardinality(schema: Schema) -> int:
    """How many values of ``schema`` one request can hold (an unbounded node's cardinality)."""
    return MAX_REQUEST_BYTES // (_min_serialized_size(schema) + 1)


def estimated_cost(rule: str, schema: Schema, cardinality: int | None) -> int | None:
    """The rule's estimated cost per evaluation times the times it may run (``cardinality``,
    None for unbounded); None when the rule cannot be read here (the binding judges it)."""
    try:
        tree = cel.parse(rule)
    except cel.CelSyntaxError:
        return None
    per_call = _cost(tree, {"self": schema, "oldSelf": schema})
    times = cardinality if cardinality is not None else _request_cardinality(schema)
    return per_call * max(times, 1)


class _Undeclared(Exception):
    """A comprehension whose range has no declared bound (``maxItems``/``maxProperties``)."""


def declared_cost(rule: str, schema: Schema) -> int | None:
    """An upper bound of the rule's runtime-cost estimate (:func:`.runtime_cost.runtime_cost`)
    on *every* value that passed ``schema``, when every comprehension in it ranges over a list
    or map whose schema declares ``maxItems``/``maxProperties``; None otherwise (or when the
    rule cannot be read here). It walks the tree as the runtime estimate does, with each
    range's declared bound (at least 1) in place of the value's count and the loop variable
    bound to the items' schema: a valid value holds no more entries than declared, a
    selection reaches a value of the selected schema, and a range the runtime cannot follow
    (an index, a call) counts 1 there, never more than the bound counted here. A rule of at
    most :data:`.runtime_cost.PER_CALL_LIMIT` by this bound can never exceed cel-go's
    per-call limit on a valid object, so its value needs no counting before it runs."""
    try:
        tree = cel.parse(rule)
    except cel.CelSyntaxError:
        return None
    try:
        return tree_cost(tree, {"self": schema}, _declared_comprehension_cost)
    except _Undeclared:
        return None


def _declared_comprehension_cost(node: cel.Call, env: dict[str, Any]) -> int:
    assert node.target is not None
    over = _schema_of(node.target, env)
    declared = _declared_entries(over) if over else None
    if declared is None or over is None or over.get("x-kubernetes-preserve-unknown-fields"):
        raise _Undeclared
    variable = node.args[0].name if isinstance(node.args[0], cel.Ident) else ""
    inner = dict(env)
    if variable:
        inner[variable] = _entry_schema(over)
    body = sum(tree_cost(arg, inner, _declared_comprehension_cost) for arg in node.args[1:])
    return tree_cost(node.target, env, _declared_comprehension_cost) + max(declared, 1) * (1 + body)


def cost_error_message(what: str, cost: int, limit: int) -> str:
    factor = cost / limit
    if factor > 100:
        worded = "more than 100x"
    elif factor < 1.5:
        worded = f"{factor:f}x"
    else:
        worded = f"{factor:.1f}x"
    return (f"{what} exceeds budget by factor of {worded} (try simplifying the rule, or adding maxItems, "
            "maxProperties, and maxLength where arrays, maps, and strings are declared)")


def _cost(node: cel.Node, env: dict[str, Any]) -> int:
    return tree_cost(node, env, _comprehension_cost)


def _comprehension_cost(node: cel.Call, env: dict[str, Any]) -> int:
    assert node.target is not None
    over = _schema_of(node.target, env)
    count = max_entries(over) or 1
    variable = node.args[0].name if isinstance(node.args[0], cel.Ident) else ""
    inner = dict(env)
    if variable:
        inner[variable] = _entry_schema(over)
    body = sum(_cost(arg, inner) for arg in node.args[1:])
    return _cost(node.target, env) + count * (1 + body)


def _entry_schema(schema: Schema | None) -> Schema | None:
    """What a comprehension's variable ranges over: a list's items, a map's keys (strings)."""
    if not schema:
        return None
    if schema.get("type") == "array":
        items = schema.get("items")
        return items if isinstance(items, Mapping) else None
    if schema.get("type") == "object":
        return {"type": "string"}
    return None


def _schema_of(node: cel.Node, env: dict[str, Any]) -> Schema | None:
    """The schema of what a variable or selection chain names, where the schema tells it."""
    if isinstance(node, cel.Ident):
        return env.get(node.name)
    if isinstance(node, cel.Select):
        operand = _schema_of(node.operand, env)
        if not operand:
            return None
        child = (operand.get("properties") or {}).get(node.field)
        if child is None and isinstance(operand.get("additionalProperties"), Mapping):
            child = operand["additionalProperties"]
        return child if isinstance(child, Mapping) else None
    if isinstance(node, cel.Index):
        operand = _schema_of(node.operand, env)
        if operand and operand.get("type") == "array":
            return _entry_schema(operand)
        if operand and isinstance(operand.get("additionalProperties"), Mapping):
            return operand["additionalProperties"]
        return None
    return None
