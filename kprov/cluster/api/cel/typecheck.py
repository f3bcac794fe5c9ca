"""The type check of a ValidatingAdmissionPolicy's expressions (its ``status.typeChecking``),
and of a CRD's validation rules against their schema (:func:`check_rule`).

Design, as upstream's TypeChecker (apiserver's ``policy/validating/typechecking.go``): the
kinds to check are those the policy's ``matchConstraints.resourceRules`` name explicitly
(:func:`kinds_to_check`: a rule with a ``*`` group or version is skipped, ``*`` and
subresource names are left out, at most 10 kinds, sorted by group, version, kind). Each
``spec.validations[i].expression`` and ``messageExpression`` is checked once per kind with
``object`` and ``oldObject`` typed by that kind's OpenAPI schema, ``params`` by the
paramKind's and ``variables.<name>`` by the type of the variable's expression; a
warning reads ``<group>/<version>, Kind=<kind>: ERROR: <input>:<line>:<col>: ...`` with
cel-go's source and caret lines, one block per kind, each ending in a newline, blocks joined
by a newline. No kinds (wildcards only): no check, no warnings.

What is checked are the common mistakes: a field selection (``a.b``, ``has(a.b)``, and
through index, ``cel.bind`` and the ``all``/``exists``/``exists_one``/``map``/``filter``
macros' variables) on an object whose schema lacks the field (``undefined field 'b'``), and
an arithmetic, ordering or equality operator applied to two known scalars it has no overload for
(``found no matching overload for '_>_' applied to '(int, string)'``), and an equality between
a whole list or map of known scalars and another known type (``'(list(int), int)'``). Everything else
cel-go's checker reports (other overloads, undeclared names) is not: an unknown type is
``dyn`` here and never warns, so a warning is always one upstream gives too. A schema that is
free-form, int-or-string, an embedded resource or preserves unknown fields is ``dyn``; a
property whose name CEL escapes (``namespace`` -> ``__namespace__``) is found under either
spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.cel.parser import (
    RESERVED,
    Call,
    CelSyntaxError,
    Construct,
    Ident,
    Index,
    Literal,
    Node,
    Select,
    parse,
)

__all__ = ["GroupVersionKind", "KindSchema", "check_policy", "check_rule", "gvk_text", "kinds_to_check"]

Schema = Mapping[str, Any]
GroupVersionKind = tuple[str, str, str]
MAX_KINDS = 10  # upstream's maxTypesToCheck
_DYN: Schema = {}
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_LITERALS: Mapping[str, Schema] = {
    "int": {"type": "integer"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "bool": {"type": "boolean"},
}
_ORDERINGS = frozenset({"_<_", "_<=_", "_>_", "_>=_"})
# cel-go declares equality (A, A) -> bool: two known scalars of different types (int and
# double too: the cross-type numeric overloads are orderings only) have no overload
_EQUALITIES = frozenset({"_==_", "_!=_"})
_ARITHMETIC: Mapping[str, frozenset[str]] = {  # the scalar types each operator is defined on
    "_+_": frozenset({"int", "double", "string"}),
    "_-_": frozenset({"int", "double"}),
    "_*_": frozenset({"int", "double"}),
    "_/_": frozenset({"int", "double"}),
    "_%_": frozenset({"int"}),
}
_ROOT_META: Schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
}


@dataclass(frozen=True)
class KindSchema:
    """A kind's schema and the ``components.schemas`` its ``$ref``s point into."""

    schema: Schema
    components: Mapping[str, Schema] = field(default_factory=dict)


def gvk_text(gvk: GroupVersionKind) -> str:
    """Go's ``schema.GroupVersionKind`` as ``%v`` prints it (``/v1, Kind=Pod`` for core)."""
    group, version, kind = gvk
    return f"{group}/{version}, Kind={kind}"


def kinds_to_check(
    policy: Mapping[str, Any], kinds_for: Callable[[str, str, str], Sequence[GroupVersionKind]]
) -> list[GroupVersionKind]:
    """The kinds ``matchConstraints`` names explicitly; ``kinds_for(group, version, resource)``
    is the REST mapping (empty when the resource is unknown)."""
    rules = ((policy.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or ()
    found: set[GroupVersionKind] = set()
    count = 0
    for rule in rules:
        groups = [str(g) for g in rule.get("apiGroups") or ()]
        versions = [str(v) for v in rule.get("apiVersions") or ()]
        if any("*" in g for g in groups) or any("*" in v for v in versions):
            continue
        resources = sorted(str(r) for r in rule.get("resources") or () if not set(str(r)) & set("*/"))
        for group in sorted(groups):
            for version in sorted(versions):
                for resource in resources:
                    for gvk in kinds_for(group, version, resource):
                        found.add(gvk)
                        count += 1
                        if count == MAX_KINDS:
                            return sorted(found)
    return sorted(found)


class _Types:
    """Schema navigation: ``$ref``/``allOf`` resolved, shapes as CEL sees them."""

    def __init__(self, components: Mapping[str, Schema]) -> None:
        self.components = components

    def resolve(self, schema: Any) -> Schema:
        for _ in range(64):
            if not isinstance(schema, Mapping):
                return _DYN
            ref = schema.get("$ref")
            if isinstance(ref, str):
                schema = self.components.get(ref.rsplit("/", 1)[-1], _DYN)
                continue
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and "type" not in schema:
                schema = all_of[0]
                continue
            return schema
        return _DYN

    def shape(self, schema: Schema) -> str:
        if any(
            schema.get(k)
            for k in (
                "x-kubernetes-preserve-unknown-fields",
                "x-kubernetes-int-or-string",
                "x-kubernetes-embedded-resource",
            )
        ):
            return "dyn"
        kind = schema.get("type")
        if kind == "array":
            return "list"
        if kind == "object" and isinstance(schema.get("properties"), Mapping) and schema["properties"]:
            return "object"
        if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
            return "map"
        return "scalar" if kind in ("string", "integer", "number", "boolean") else "dyn"

    def field(self, schema: Schema, name: str) -> Schema | None:
        """The field's schema; None when the object has no such field."""
        properties: Mapping[str, Any] = schema["properties"]
        if name in properties:
            return self.resolve(properties[name])
        for raw in properties:
            if _escaped(raw) == name:
                return self.resolve(properties[raw])
        return None

    def element(self, schema: Schema) -> Schema:
        shape = self.shape(schema)
        if shape == "list":
            return self.resolve(schema.get("items"))
        if shape == "map":
            return self.resolve(schema.get("additionalProperties"))
        return _DYN


def _escaped(name: str) -> str:
    """Upstream's property-name escaping (``namespace`` -> ``__namespace__``, ``-`` -> ``__dash__``)."""
    if name in RESERVED:
        return f"__{name}__"
    out = name.replace("__", "__underscores__")
    return out.replace(".", "__dot__").replace("-", "__dash__").replace("/", "__slash__")


class _Checker:
    def __init__(self, types: _Types, roots: Mapping[str, Schema]) -> None:
        self.types = types
        self.roots = roots
        self.errors: list[tuple[int, str]] = []

    def undefined(self, pos: int, name: str) -> Schema:
        self.errors.append((pos, f"undefined field '{name}'"))
        return _DYN

    def select(self, operand: Schema, name: str, pos: int) -> Schema:
        shape = self.types.shape(operand)
        if shape == "map":
            return self.types.element(operand)
        if shape != "object":
            return _DYN
        found = self.types.field(operand, name)
        if found is None:
            return self.undefined(pos, name)
        return found

    def visit(self, node: Node, scope: Mapping[str, Schema]) -> Schema:
        if isinstance(node, Ident):
            return scope[node.name] if node.name in scope else self.roots.get(node.name, _DYN)
        if isinstance(node, Select):
            operand = self.visit(node.operand, scope)
            return _DYN if node.optional else self.select(operand, node.field, node.pos)
        if isinstance(node, Index):
            operand = self.visit(node.operand, scope)
            self.visit(node.index, scope)
            return _DYN if node.optional else self.types.element(operand)
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, Literal):
            return _LITERALS.get(node.kind, _DYN)
        if isinstance(node, Construct):
            for part in node.parts:
                self.visit(part, scope)
        return _DYN

    def scalar(self, schema: Schema) -> str:
        """The CEL type name of a plain scalar schema; "" when not one (or not sure)."""
        if self.types.shape(schema) != "scalar" or schema.get("nullable"):
            return ""
        kind = schema.get("type")
        if kind == "string":
            return "" if schema.get("format") in ("byte", "date", "date-time", "duration") else "string"
        return {"integer": "int", "number": "double", "boolean": "bool"}.get(str(kind), "")

    def container(self, schema: Schema) -> str:
        """cel-go's name of a list of known scalars (``list(int)``) or a map of them
        (``map(string, string)``); "" for anything else (objects' declared names, not sure)."""
        if schema.get("nullable"):
            return ""
        shape = self.types.shape(schema)
        if shape not in ("list", "map"):
            return ""
        element = self.scalar(self.types.element(schema))
        if not element:
            return ""
        return f"list({element})" if shape == "list" else f"map(string, {element})"

    def operator(self, node: Call, scope: Mapping[str, Schema]) -> Schema:
        """A binary arithmetic or ordering operator on two known scalars: cel-go's overloads
        (ordering across int and double allowed, as Kubernetes' CrossTypeNumericComparisons);
        an equality between a list or map of known scalars and anything else known (cel-go
        declares ``_==_`` as ``(A, A)``)."""
        left, right = (self.visit(arg, scope) for arg in node.args)
        types = (self.scalar(left), self.scalar(right))
        if node.function in _EQUALITIES and (self.container(left) or self.container(right)):
            types = (types[0] or self.container(left), types[1] or self.container(right))
        if "" in types:
            return _DYN
        if node.function in _ORDERINGS:
            allowed = types[0] == types[1] or set(types) <= {"int", "double"}
            result: Schema = {"type": "boolean"}
        elif node.function in _EQUALITIES:
            allowed = types[0] == types[1]
            result = {"type": "boolean"}
        else:
            allowed = types[0] == types[1] and types[0] in _ARITHMETIC[node.function]
            result = left
        if not allowed:
            self.errors.append(
                (
                    node.pos,
                    f"found no matching overload for '{node.function}' applied to '({types[0]}, {types[1]})'",
                )
            )
            return _DYN
        return result

    def call(self, node: Call, scope: Mapping[str, Schema]) -> Schema:
        if (
            node.target is None
            and len(node.args) == 2
            and (node.function in _ORDERINGS or node.function in _EQUALITIES or node.function in _ARITHMETIC)
        ):
            return self.operator(node, scope)
        if node.function == "has" and node.target is None and len(node.args) == 1:
            arg = node.args[0]
            if isinstance(arg, Select) and not arg.optional:
                self.select(self.visit(arg.operand, scope), arg.field, node.pos)  # at the macro's '('
                return _DYN
        if (
            node.function in _MACROS
            and node.target is not None
            and len(node.args) in (2, 3)
            and isinstance(node.args[0], Ident)
            and not (node.function != "map" and len(node.args) == 3)
        ):
            target = self.visit(node.target, scope)
            variable = self.types.element(target) if self.types.shape(target) == "list" else _DYN
            if self.types.shape(target) == "map":
                variable = {"type": "string"}
            inner = {**scope, node.args[0].name: variable}
            for arg in node.args[1:]:
                self.visit(arg, inner)
            return _DYN
        if (
            node.function == "bind"
            and isinstance(node.target, Ident)
            and node.target.name == "cel"
            and len(node.args) == 3
            and isinstance(node.args[0], Ident)
        ):  # cel.bind(name, init, body): name has init's type in body
            bound = {**scope, node.args[0].name: self.visit(node.args[1], scope)}
            self.visit(node.args[2], bound)
            return _DYN
        if node.target is not None:
            self.visit(node.target, scope)
        if node.function in _MACROS and node.target is not None:  # other comprehension forms:
            scope = {**scope, **{a.name: _DYN for a in node.args[:-1] if isinstance(a, Ident)}}
        for arg in node.args:
            self.visit(arg, scope)
        return _DYN


def _root(types: _Types, schema: Schema) -> Schema:
    """A resource root as upstream types it: ``apiVersion``, ``kind`` and ``metadata`` with at
    least ``name`` and ``generateName`` are always there."""
    schema = types.resolve(schema)
    if types.shape(schema) != "object":
        return schema
    properties = dict(schema["properties"])
    meta = types.resolve(properties.get("metadata"))
    found = meta.get("properties")
    meta_props: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if not all(types.resolve(meta_props.get(k)).get("type") == "string" for k in ("name", "generateName")):
        properties["metadata"] = _ROOT_META
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    return {**schema, "properties": properties}


def _display(text: str, pos: int, message: str) -> str:
    """cel-go's ``ERROR: <input>:L:C: msg`` with the source line and a caret under column C."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = pos - line_start
    number = text.count("\n", 0, pos) + 1
    snippet = line.replace("\t", " ")
    dots = "".join("\uff0e" if len(ch.encode()) > 1 else "." for ch in line[:column])
    caret = "\uff3e" if column < len(line) and len(line[column].encode()) > 1 else "^"
    return f"ERROR: <input>:{number}:{column + 1}: {message}\n | {snippet}\n | {dots}{caret}"


def _issues(text: str, checker: _Checker, node: Node, scope: Mapping[str, Schema]) -> str:
    checker.errors = []
    checker.visit(node, scope)
    return "\n".join(_display(text, pos, message) for pos, message in sorted(checker.errors))


def _variable_types(checker: _Checker, variables: Iterable[Mapping[str, Any]]) -> Schema:
    """``variables`` as an object whose fields are the variables, each typed by its expression."""
    properties: dict[str, Schema] = {}
    roots = dict(checker.roots)
    for variable in variables:
        name = str(variable.get("name", ""))
        try:
            node = parse(str(variable.get("expression", "")))
        except CelSyntaxError:
            properties[name] = _DYN
            continue
        checker.roots = {**roots, "variables": {"type": "object", "properties": dict(properties)}}
        checker.errors = []
        value = checker.visit(node, {})
        properties[name] = _DYN if checker.errors else value
    checker.roots = roots
    return {"type": "object", "properties": properties} if properties else _DYN


def check_rule(text: str, schema: Schema, *, root: bool = False) -> str:
    """cel-go's errors ("" when none) for a CRD's ``x-kubernetes-validations`` rule at a node of
    ``schema`` (``self`` and ``oldSelf`` typed by it; at the ``root``, a resource with its
    metadata): kube-apiserver refuses a CRD whose rule selects a field its schema lacks."""
    try:
        node = parse(text)
    except CelSyntaxError:
        return ""  # the compiler words syntax errors
    types = _Types({})
    typed = _root(types, schema) if root else schema
    return _issues(text, _Checker(types, {"self": typed, "oldSelf": typed}), node, {})


def check_policy(
    policy: Mapping[str, Any],
    kinds: Sequence[tuple[GroupVersionKind, KindSchema]],
    params: KindSchema | None,
) -> list[dict[str, str]]:
    """``status.typeChecking.expressionWarnings`` of ``policy`` against ``kinds`` (from
    :func:`kinds_to_check`, those with a schema) and the paramKind's schema (None: dyn)."""
    spec = policy.get("spec") or {}
    expressions: list[tuple[str, str]] = []
    for index, validation in enumerate(spec.get("validations") or ()):
        expressions.append((f"spec.validations[{index}].expression", str(validation.get("expression", ""))))
        if validation.get("messageExpression"):
            expressions.append(
                (f"spec.validations[{index}].messageExpression", str(validation["messageExpression"]))
            )
    parsed: list[tuple[str, str, Node]] = []
    for field_ref, text in expressions:
        try:
            parsed.append((field_ref, text, parse(text)))
        except CelSyntaxError:
            continue  # refused when written; a stored one is the compile error's, not ours
    blocks: dict[str, list[str]] = {}
    for gvk, kind_schema in kinds:
        components = {**(params.components if params else {}), **kind_schema.components}
        types = _Types(components)
        obj = _root(types, kind_schema.schema)
        roots: dict[str, Schema] = {"object": obj, "oldObject": obj}
        if params is not None:
            roots["params"] = _root(types, params.schema)
        checker = _Checker(types, roots)
        checker.roots = {**roots, "variables": _variable_types(checker, spec.get("variables") or ())}
        for field_ref, text, node in parsed:
            issues = _issues(text, checker, node, {})
            if issues:
                blocks.setdefault(field_ref, []).append(f"{gvk_text(gvk)}: {issues}\n")
    return [
        {"fieldRef": field_ref, "warning": "\n".join(blocks[field_ref])}
        for field_ref, _, _ in parsed
        if field_ref in blocks
    ]
