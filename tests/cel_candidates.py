"""Adapters that run a cel-spec :class:`tests.cel_spec.Case` on each candidate CEL runtime.

Each adapter compiles the case's expression in the runtime's own environment (standard CEL
plus the extensions Kubernetes enables that the runtime offers: strings, optionals), binds its
variables and converts the result into cel_spec's neutral form. They exist to compare the
runtimes (docs/decisions/0053-cel-environment.md); kprov's own environment has its adapter in
tests/unit/api/cel/test_cel_spec.py. A runtime that is not installed is reported as such.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from tests.cel_spec import Case, TypeName, UInt


def rust_binding() -> Callable[[Case], Any]:
    """``common-expression-language`` (cel-rust): no uint in its Python results (they come back
    as int), so uint expectations are compared as int for it."""
    import cel
    import cel.stdlib

    def to_neutral(value: Any) -> Any:
        if isinstance(value, list):
            return [to_neutral(v) for v in value]
        if isinstance(value, dict):
            return {to_neutral(k): to_neutral(v) for k, v in value.items()}
        return value

    def evaluate(case: Case) -> Any:
        program = cel.compile(case.expr)
        context = cel.Context()
        cel.stdlib.add_stdlib_to_context(context)
        for name, value in case.bindings.items():
            context.add_variable(name, value)
        result = to_neutral(program.execute(context))
        if isinstance(result, str) and case.expr.startswith("type("):
            return TypeName(result)
        return result

    return evaluate


def uint_as_int(value: Any) -> Any:
    if isinstance(value, UInt):
        return int(value)
    if isinstance(value, list):
        return [uint_as_int(v) for v in value]
    if isinstance(value, dict):
        return {uint_as_int(k): uint_as_int(v) for k, v in value.items()}
    return value


_CPP_TYPES = {
    "INT": "int",
    "UINT": "uint",
    "DOUBLE": "double",
    "STRING": "string",
    "BYTES": "bytes",
    "BOOL": "bool",
    "NULL": "null_type",
    "TIMESTAMP": "google.protobuf.Timestamp",
    "DURATION": "google.protobuf.Duration",
    "TYPE": "type",
    "DYN": "dyn",
}


def cpp_type(value: Any) -> Any:
    name = value.type().name()
    if name.lower().startswith("list"):
        return "list"
    if name.lower().startswith("map"):
        return "map"
    return name


def cpp_neutral(value: Any) -> Any:
    kind = cpp_type(value)
    raw = value.value()
    if kind == "list":
        return [cpp_neutral(v) for v in raw]
    if kind == "map":
        return {cpp_neutral(k) if hasattr(k, "type") else k: cpp_neutral(v) for k, v in raw.items()}
    if kind == "UINT":
        return UInt(raw)
    if kind == "BYTES":
        return bytes(raw)
    if kind == "TYPE":
        simple = _CPP_TYPES.get(raw.name(), raw.name())
        return TypeName(simple.split("<")[0].lower() if "<" in simple else simple)
    if kind == "ERROR":
        raise ValueError(str(raw))
    return raw


def cpp_binding() -> Callable[[Case], Any]:
    """``cel-expr-python`` (Google's cel-cpp binding), with the strings and optional
    extensions and the cases' declarations (as kprov's environment declares them)."""
    from cel_expr_python import cel
    from cel_expr_python.ext import ext_optional, ext_strings

    from kprov.cluster.api.cel.environment import _type

    def evaluate(case: Case) -> Any:
        env = cel.NewEnv(
            variables={name: _type(cel, sig) for name, sig in case.decls.items()}
            | {name: cel.Type.DYN for name in case.bindings if name not in case.decls},
            extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional()],
        )
        program = env.compile(case.expr, disable_check=case.disable_check)
        return cpp_neutral(program.eval(data=dict(case.bindings)))

    return evaluate


def python_impl() -> Callable[[Case], Any]:
    """``cel-python`` (celpy, pure Python)."""
    import celpy
    from celpy import celtypes

    environment = celpy.Environment()

    def to_cel(value: Any) -> Any:
        return (
            celpy.json_to_cel(value)
            if not isinstance(value, (UInt, bytes))
            else (celtypes.UintType(value) if isinstance(value, UInt) else celtypes.BytesType(value))
        )

    def to_neutral(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, celtypes.BoolType):
            return bool(value)
        if isinstance(value, celtypes.UintType):
            return UInt(int(value))
        if isinstance(value, celtypes.IntType):
            return int(value)
        if isinstance(value, celtypes.DoubleType):
            return float(value)
        if isinstance(value, celtypes.BytesType):
            return bytes(value)
        if isinstance(value, celtypes.TypeType):
            return TypeName(str(value))
        if isinstance(value, celtypes.StringType):
            return str(value)
        if isinstance(value, celtypes.ListType):
            return [to_neutral(v) for v in value]
        if isinstance(value, celtypes.MapType):
            return {to_neutral(k): to_neutral(v) for k, v in value.items()}
        if isinstance(value, celtypes.TimestampType):
            return datetime.datetime.fromtimestamp(value.timestamp(), tz=datetime.UTC)
        if isinstance(value, celtypes.DurationType):
            return datetime.timedelta(seconds=value.total_seconds())
        if isinstance(value, Exception):
            raise value
        return value

    def evaluate(case: Case) -> Any:
        program = environment.program(environment.compile(case.expr))
        return to_neutral(program.evaluate({k: to_cel(v) for k, v in case.bindings.items()}))

    return evaluate


CANDIDATES: dict[str, Callable[[], Callable[[Case], Any]]] = {
    "common-expression-language": rust_binding,
    "cel-expr-python": cpp_binding,
    "cel-python": python_impl,
}
