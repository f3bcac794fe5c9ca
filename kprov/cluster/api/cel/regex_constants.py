"""Constant regexes of ``matches`` compiled once, as cel-go's regex optimization does.

Design: cel-cpp (through ``cel-expr-python``, which exposes no runtime option for it)
compiles the pattern of ``matches`` on every call, where kube-apiserver's cel-go compiles a
constant pattern once, when the program is built. This module gives kprov the same: after an
expression is parsed and type-checked from its own text (so every compile error, message and
position is the checker's), its checked syntax tree (``Expression.serialize()``: a
``cel.expr.CheckedExpr`` in an ``Any``) is read, and each call of ``matches`` whose pattern is a
string literal is pointed at :data:`FUNCTION`, a function of the same arguments registered
on the runtime (:data:`LIBRARY`) whose implementation keeps the compiled pattern. The text
is never touched; only the checked tree's call names and overload references change, and the
runtime rebuilds the program from it (``Env.deserialize``).

Semantics are kept exact: patterns are compiled by RE2 (``google-re2``, the engine cel-cpp
and cel-go use), searched as RE2's partial match; a pattern RE2 refuses is left to the
built-in (its error at evaluation is the runtime's own). A non-string argument finds no
overload, as with the built-in.

The tree is read through a few messages declared here (calls, selections, lists, maps,
comprehensions: where a call can sit); protobuf keeps every field not declared and writes it
back unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2: imported here, so a runtime without it fails at start

from kprov.cluster.api.cel.library import Library

__all__ = ["FUNCTION", "LIBRARY", "precompiled"]

FUNCTION = "__matches_re2__"
_MEMBER_ID = "string_matches_re2_constant"
_GLOBAL_ID = "matches_re2_constant"

_EXPR = "cel.expr.Expr"
_ENTRY = "cel.expr.CheckedExpr.ReferenceMapEntry"  # map<int64, Reference>: nested, as maps need
# name -> fields: (name, number, kind, repeated); kind a message name, or "string"/"int64"
_ONEOFS = {"cel.expr.Constant": "constant_kind", _EXPR: "expr_kind"}
_MESSAGES: tuple[tuple[str, tuple[tuple[str, int, str, bool], ...]], ...] = (
    ("cel.expr.Constant", (("string_value", 6, "string", False),)),
    ("cel.expr.Expr.Select", (("operand", 1, _EXPR, False),)),
    (
        "cel.expr.Expr.Call",
        (("target", 1, _EXPR, False), ("function", 2, "string", False), ("args", 3, _EXPR, True)),
    ),
    ("cel.expr.Expr.CreateList", (("elements", 1, _EXPR, True),)),
    ("cel.expr.Expr.CreateStruct.Entry", (("map_key", 3, _EXPR, False), ("value", 4, _EXPR, False))),
    ("cel.expr.Expr.CreateStruct", (("entries", 2, "cel.expr.Expr.CreateStruct.Entry", True),)),
    (
        "cel.expr.Expr.Comprehension",
        (
            ("iter_range", 2, _EXPR, False),
            ("accu_init", 4, _EXPR, False),
            ("loop_condition", 5, _EXPR, False),
            ("loop_step", 6, _EXPR, False),
            ("result", 7, _EXPR, False),
        ),
    ),
    (
        _EXPR,
        (
            ("id", 2, "int64", False),
            ("const_expr", 3, "cel.expr.Constant", False),
            ("select_expr", 5, "cel.expr.Expr.Select", False),
            ("call_expr", 6, "cel.expr.Expr.Call", False),
            ("list_expr", 7, "cel.expr.Expr.CreateList", False),
            ("struct_expr", 8, "cel.expr.Expr.CreateStruct", False),
            ("comprehension_expr", 9, "cel.expr.Expr.Comprehension", False),
        ),
    ),
    ("cel.expr.Reference", (("overload_id", 3, "string", True),)),
    ("cel.expr.CheckedExpr", (("reference_map", 2, _ENTRY, True), ("expr", 4, _EXPR, False))),
)


@functools.cache
def _classes() -> Mapping[str, Any]:
    """The tree's message classes, in a private pool (one file; nested messages declared at
    the top, their names joined by ``_``: only the outer ``Any``'s type URL names a type)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    scalar = {"string": field.TYPE_STRING, "int64": field.TYPE_INT64}
    proto = descriptor_pb2.FileDescriptorProto(
        name="kprov/cel/checked_tree.proto", package="cel.expr", syntax="proto3"
    )
    local = {name: name.removeprefix("cel.expr.").replace(".", "_") for name, _ in _MESSAGES}
    local[_ENTRY] = "CheckedExpr.ReferenceMapEntry"
    for name, fields in _MESSAGES:
        message = proto.message_type.add(name=local[name])
        if name == "cel.expr.CheckedExpr":
            entry = message.nested_type.add(name="ReferenceMapEntry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=field.TYPE_INT64, label=field.LABEL_OPTIONAL)
            entry.field.add(
                name="value",
                number=2,
                type=field.TYPE_MESSAGE,
                type_name=".cel.expr.Reference",
                label=field.LABEL_OPTIONAL,
            )
        for field_name, number, kind, repeated in fields:
            label = field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL
            added = message.field.add(name=field_name, number=number, label=label)
            if name in _ONEOFS and field_name != "id":  # an expression's or a constant's kind: a oneof
                if not message.oneof_decl:
                    message.oneof_decl.add(name=_ONEOFS[name])
                added.oneof_index = 0
            if kind in scalar:
                added.type = scalar[kind]
            else:
                added.type = field.TYPE_MESSAGE
                added.type_name = f".cel.expr.{local[kind]}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"cel.expr.{local[name]}"))
        for name in ("cel.expr.CheckedExpr", _EXPR)
    }


def _exprs(expr: Any) -> Iterator[Any]:
    """Every expression of the tree under ``expr`` (itself included)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        kind = node.WhichOneof("expr_kind")
        if kind == "select_expr":
            stack.append(node.select_expr.operand)
        elif kind == "call_expr":
            call = node.call_expr
            if call.HasField("target"):
                stack.append(call.target)
            stack.extend(call.args)
        elif kind == "list_expr":
            stack.extend(node.list_expr.elements)
        elif kind == "struct_expr":
            for entry in node.struct_expr.entries:
                if entry.HasField("map_key"):
                    stack.append(entry.map_key)
                stack.append(entry.value)
        elif kind == "comprehension_expr":
            loop = node.comprehension_expr
            stack.extend((loop.iter_range, loop.accu_init, loop.loop_condition, loop.loop_step, loop.result))


def _constant_pattern(call: Any) -> str | None:
    """The pattern of a ``matches`` call when it is a string literal RE2 accepts."""
    if call.function != "matches":
        return None
    args = list(call.args)
    pattern = args[0] if call.HasField("target") and len(args) == 1 else args[1] if len(args) == 2 else None
    if pattern is None or pattern.WhichOneof("expr_kind") != "const_expr":
        return None
    if pattern.const_expr.WhichOneof("constant_kind") != "string_value":
        return None
    try:
        _compiled(pattern.const_expr.string_value)
    except Exception:  # noqa: BLE001 - RE2 refuses it: the built-in reports it as the runtime does
        return None
    return str(pattern.const_expr.string_value)


def precompiled(env: Any, expression: Any, text: str) -> Any:
    """``expression`` (checked, compiled from ``text`` in ``env``) with each ``matches`` of a
    constant pattern calling :data:`FUNCTION`; ``expression`` itself when it has none."""
    if "matches" not in text:
        return expression
    from google.protobuf import any_pb2

    wrapper = any_pb2.Any()
    wrapper.ParseFromString(expression.serialize())
    classes = _classes()
    checked = classes["cel.expr.CheckedExpr"]()
    checked.ParseFromString(wrapper.value)
    changed = False
    for node in _exprs(checked.expr):
        if node.WhichOneof("expr_kind") != "call_expr" or _constant_pattern(node.call_expr) is None:
            continue
        member = node.call_expr.HasField("target")
        node.call_expr.function = FUNCTION
        if node.id in checked.reference_map:
            reference = checked.reference_map[node.id]
            del reference.overload_id[:]
            reference.overload_id.append(_MEMBER_ID if member else _GLOBAL_ID)
        changed = True
    if not changed:
        return expression
    wrapper.value = checked.SerializeToString()
    return env.deserialize(wrapper.SerializeToString())


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    """RE2's compiled ``pattern`` (google-re2's engine object: its Python wrapper's ``search``
    costs several times the match); ValueError if RE2 refuses it."""
    options = re2.Options()
    options.log_errors = False
    regexp = re2._re2.RE2(pattern.encode(), options)
    if not regexp.ok():
        raise ValueError(regexp.error())
    return regexp


_NO_MATCH = (-1, -1)
_UNANCHORED = re2._Anchor.UNANCHORED  # RE2's partial match


def _matches(text: str, pattern: str) -> bool:
    """RE2's partial match (``UNANCHORED``), as cel's ``matches``, on the UTF-8 text."""
    encoded = text.encode()
    return bool(_compiled(pattern).Match(_UNANCHORED, encoded, 0, len(encoded))[0] != _NO_MATCH)


def _declare(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    string, boolean = cel.Type.STRING, cel.Type.BOOL
    return [
        cel.FunctionDecl(
            FUNCTION,
            [
                cel.Overload(_MEMBER_ID, boolean, [string, string], is_member=True, impl=_matches),
                cel.Overload(_GLOBAL_ID, boolean, [string, string], is_member=False, impl=_matches),
            ],
        )
    ]


LIBRARY = Library("regex-constants", _declare)
