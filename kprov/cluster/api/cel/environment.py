"""The one CEL environment of the API server: the runtime plus Kubernetes' libraries.

Design: the runtime is Google's cel-cpp through its Python binding ``cel-expr-python`` (chosen
on cel-spec's conformance cases and per-evaluation cost, docs/decisions/0053). It brings
standard CEL with every overload (global and member ``matches``, ``size`` in code points,
conversions, heterogeneous equality, overflow errors), cel-go's extended strings library and
optionals (``?.``, ``[?]``, ``optional.*``, ``orValue``, ``hasValue``). Kubernetes' own
libraries are registered on it as functions, never as rewrites of an expression's text: each
library module (``lib_*``, listed in :func:`_libraries`) declares its overloads with Python
implementations (merged by the runtime into functions already declared), and
its value types (``net.IP``, ``net.CIDR``, ``kubernetes.URL``, ``kubernetes.Quantity``) as
small protobuf messages in a private descriptor pool, so ``type(ip("1.2.3.4")) == net.IP``
as upstream and the runtime carries them by value.

An :class:`Environment` compiles an expression against declared variables (a CRD rule's
``self``/``oldSelf``, a policy's ``object``/``request``/``params``...), type-checking it;
:meth:`Program.execute` takes a :class:`Context` (one runtime activation shared by a
request's programs) or plain Python values (JSON-like) and returns plain Python values,
raising :class:`EvaluationError` worded as cel-go's for an error, and
:class:`CostLimitExceeded` for a looping expression whose estimated cost on the values is
over cel-go's per-call limit (the runtime tracks no cost; :mod:`.runtime_cost`).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kprov.cluster.api.cel import (
    lib_authz,
    lib_lists,
    lib_net,
    lib_quantity,
    lib_regex,
    lib_urls,
    regex_constants,
)
from kprov.cluster.api.cel.library import Library
from kprov.cluster.api.cel.runtime_cost import LoopShape, loop_shape, loop_tree, within_limit

__all__ = [
    "COST_EXCEEDED",
    "CompileError",
    "Context",
    "CostLimitExceeded",
    "Environment",
    "EvaluationError",
    "Library",
    "Program",
    "environment",
]


class CompileError(ValueError):
    """An expression that does not parse or type-check."""


class EvaluationError(RuntimeError):
    """An expression whose evaluation failed (no such key, overflow, a library's error)."""


def _libraries() -> tuple[Library, ...]:

    return (
        lib_lists.LIBRARY,
        lib_lists.SETS,
        lib_regex.LIBRARY,
        lib_urls.LIBRARY,
        lib_net.LIBRARY,
        lib_quantity.LIBRARY,
        lib_authz.LIBRARY,
        regex_constants.LIBRARY,
    )


def _binding() -> Any:
    return importlib.import_module("cel_expr_python.cel")


def _pool(libraries: Iterable[Library]) -> tuple[Any, dict[str, Any]]:
    """A descriptor pool holding the libraries' value types, and their message classes."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    classes: dict[str, Any] = {}
    for library in libraries:
        for full_name, fields in library.messages:
            package, _, name = full_name.rpartition(".")
            proto = descriptor_pb2.FileDescriptorProto(
                name=f"kprov/cel/{full_name}.proto", package=package, syntax="proto3"
            )
            message = proto.message_type.add(name=name)
            for number, spec in enumerate(fields, start=1):
                field_name, _, of_type = spec.partition(":")  # "name" a string, "name:pkg.Msg" a message
                field = message.field.add(
                    name=field_name,
                    number=number,
                    type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                )
                if of_type:
                    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                    field.type_name = f".{of_type}"
                    proto.dependency.append(f"kprov/cel/{of_type}.proto")
            pool.Add(proto)
            classes[full_name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))
    return pool, classes


class Context:
    """The variables of evaluations, set one by one (a request's ``object``, later its
    ``params``): the runtime wraps Python values and reads them lazily, so a value no
    expression reads costs nothing, and one context serves every program of a request. The
    runtime's activation over them is built on the first evaluation and kept until a
    variable changes (an evaluation against it costs a fraction of one given plain data)."""

    __slots__ = ("_activation", "values")

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self._activation: Any = None

    def add_variable(self, name: str, value: Any) -> None:
        self.values[name] = value
        self._activation = None

    def activation(self, env: Any) -> Any:
        if self._activation is None:
            self._activation = env.Activation(data=self.values)
        return self._activation


_STRING = re.compile(r"""[rR]?[bB]?[rR]?('{3}|"{3}|'|")""")
_NAME = re.compile(r"(?<![.\w])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")


def _names(text: str) -> frozenset[str]:
    """The identifiers ``text`` reads (a superset: comprehension variables too), outside its
    string literals: what a caller must bind."""
    kept, index = [], 0
    while True:
        match = _STRING.search(text, index)
        if match is None:
            kept.append(text[index:])
            break
        kept.append(text[index : match.start()])
        quote = match.group(1)
        raw = "r" in match.group(0)[: -len(quote)].lower()
        end = match.end()
        while end < len(text) and not text.startswith(quote, end):
            end += 2 if text[end] == "\\" and not raw else 1
        index = end + len(quote)
        kept.append(" ")
    return frozenset(_NAME.findall("".join(kept))) - _KEYWORDS


_KEYWORDS = frozenset({"true", "false", "null", "in", "int", "uint", "double", "string", "bytes", "bool"})


COST_EXCEEDED = "operation cancelled: actual cost limit exceeded"  # cel-go's error


class CostLimitExceeded(EvaluationError):
    """The expression's estimated cost on these values is over cel-go's per-call limit
    (kube-apiserver's 1,000,000): refused before it runs, as cel-go's tracker stops it."""

    def __init__(self) -> None:
        super().__init__(COST_EXCEEDED)


class Program:
    """A compiled expression; evaluate it as often as needed. One that loops (calls a
    comprehension) has its cost on the values estimated first (:mod:`.runtime_cost`: the
    runtime tracks no cost), so a rule nesting loops over a large list is refused, not run."""

    __slots__ = ("_env", "_expression", "_loop", "names", "text")

    def __init__(self, text: str, expression: Any, env: Any) -> None:
        self.text = text
        self._expression = expression
        self._env = env
        self.names = _names(text)
        tree = loop_tree(text)
        self._loop = (tree, loop_shape(tree)) if tree is not None else None

    def _check_cost(self, values: Mapping[str, Any]) -> None:
        if self._loop is not None:
            read = {name: values[name] for name in self.names if name in values}
            if not within_limit(self._loop[0], self._loop[1], read):
                raise CostLimitExceeded()

    @property
    def loop_shape(self) -> LoopShape | None:
        """What bounds its runtime-cost estimate when it loops (None: it never loops)."""
        return self._loop[1] if self._loop is not None else None

    def holds_unchecked(self, values: Mapping[str, Any]) -> bool:
        """Is it true on ``values``, run with no runtime-cost estimate: for a caller that has
        bounded the cost itself (an error or a non-true result: False)."""
        try:
            return self._expression.eval(data=values).plain_value() is True
        except Exception:  # noqa: BLE001 - not true: the caller judges another way
            return False

    def execute(self, values: Context | Mapping[str, Any]) -> Any:
        """The result as a plain Python value; raises EvaluationError (cel-go's wording)."""
        if isinstance(values, Context):
            self._check_cost(values.values)
            try:
                result = self._expression.eval(values.activation(self._env))
            except Exception as exc:  # the binding raises for a missing variable or a bad input
                raise EvaluationError(_clean(str(exc))) from None
            return plain(result)
        return plain(self.evaluate_value(values))

    def evaluate(self, values: Mapping[str, Any] | None = None) -> Any:
        return plain(self.evaluate_value(values or {}))

    def evaluate_value(self, values: Mapping[str, Any]) -> Any:
        """The runtime's own value (typed: uint apart from int), for callers that need it."""
        self._check_cost(values)
        try:
            return self._expression.eval(data=values)
        except Exception as exc:  # the binding raises for a missing variable or a bad input
            raise EvaluationError(_clean(str(exc))) from None


def plain(result: Any) -> Any:
    """A runtime value as a plain Python value; raises EvaluationError for an error value
    (whose plain form is its message: only a string result needs its type asked)."""
    value = result.plain_value()
    if isinstance(value, str):
        if result.type().name() == "ERROR":
            raise EvaluationError(_worded(_clean(value)))
    elif isinstance(value, bytearray):
        return bytes(value)
    return value


_INDEX = re.compile(r"Index error: index=(-?\d+) size=(\d+)")


def _worded(message: str) -> str:
    """cel-go's wording of the runtime's common errors (upstream's messages quote them)."""
    if message.startswith("Key not found in map : "):
        return "no such key: " + message.removeprefix("Key not found in map : ").strip('"')
    if message == "divide by zero":
        return "division by zero"
    index = _INDEX.fullmatch(message)
    if index:
        return f"index '{index.group(1)}' out of range in list size '{index.group(2)}'"
    if message.startswith("No matching overloads found"):
        return "no such overload"
    return message


def _clean(message: str) -> str:
    """The runtime's message without its status-code prefix/suffix (``INVALID_ARGUMENT: ... [X]``)."""
    message = message.strip()
    if message.endswith("]") and " [" in message:
        message = message[: message.rindex(" [")]
    head, sep, rest = message.partition(": ")
    if sep and head.isupper() and "_" in head or head in ("UNKNOWN", "INTERNAL", "CANCELLED"):
        message = rest
    return message


class Environment:
    """The runtime configured with Kubernetes' libraries; one per process."""

    def __init__(self, libraries: tuple[Library, ...]) -> None:
        cel = _binding()
        self._cel = cel
        self.pool, self.messages = _pool(libraries)
        types = {name: cel.Type(name) for name in self.messages}
        self.functions = [
            decl for library in libraries for decl in library.declare(cel, types, self.messages)
        ]
        ext = importlib.import_module("cel_expr_python.ext.ext_strings")
        opt = importlib.import_module("cel_expr_python.ext.ext_optional")
        # one extension after strings and optionals: the runtime merges an extension's
        # overloads into functions already declared (indexOf of lists beside strings', string()
        # of an IP beside the standard conversions), where plain declarations collide
        self._extensions = lambda: [
            ext.ExtStrings(),
            opt.ExtOptional(),
            cel.CelExtension("kubernetes", self.functions),
        ]
        self._envs: dict[tuple[tuple[str, str], ...], Any] = {}

    def _env(self, variables: Mapping[str, str]) -> Any:
        key = tuple(sorted(variables.items()))
        env = self._envs.get(key)
        if env is None:
            cel = self._cel
            env = cel.NewEnv(
                descriptor_pool=self.pool,
                variables={name: _type(cel, sig) for name, sig in key},
                extensions=self._extensions(),
            )
            self._envs[key] = env
        return env

    def compile(self, text: str, variables: Mapping[str, str], check: bool = True) -> Program:
        """Compile ``text`` with ``variables`` declared (name -> type: ``dyn``, ``int``,
        ``map(string, dyn)``...); raises CompileError with the checker's message. ``check``
        False parses only (cel-spec's unchecked cases)."""
        env = self._env(variables)
        try:
            expression = env.compile(text, disable_check=not check)
        except Exception as exc:
            raise CompileError(_UNDECLARED.sub(lambda m: _first_segment(m, text), _clean(str(exc)))) from None
        if check:  # constant regexes compiled once (the checked tree only; the text is as given)
            expression = regex_constants.precompiled(env, expression, text)
        return Program(text, expression, env)


_UNDECLARED = re.compile(
    r"ERROR: <input>:(\d+):(\d+): undeclared reference to '([\w]+(?:\.[\w]+)+)' \(in container ''\)"
    r"\n \| [^\n]*\n \| [.]*\^"
)


def _first_segment(match: re.Match[str], text: str) -> str:
    """cel-go's report of an undeclared qualified name (``params.max``): its first segment, at
    that segment's column (the runtime's checker names the whole name at its last dot)."""
    line_no, column, name = int(match.group(1)), int(match.group(2)), match.group(3)
    line = text.split("\n")[line_no - 1] if line_no <= text.count("\n") + 1 else ""
    start = line.rfind(name, 0, column + len(name))
    if start < 0:
        return match.group(0)
    first = name.split(".")[0]
    return (
        f"ERROR: <input>:{line_no}:{start + 1}: undeclared reference to '{first}' (in container '')"
        f"\n | {line}\n | {'.' * start}^"
    )


def _type(cel: Any, signature: str) -> Any:
    simple = {
        "dyn": cel.Type.DYN,
        "int": cel.Type.INT,
        "uint": cel.Type.UINT,
        "double": cel.Type.DOUBLE,
        "string": cel.Type.STRING,
        "bytes": cel.Type.BYTES,
        "bool": cel.Type.BOOL,
        "null_type": cel.Type.NULL,
    }
    if signature in simple:
        return simple[signature]
    if signature.startswith("list(") and signature.endswith(")"):
        return cel.Type.List(_type(cel, signature[5:-1]))
    if signature.startswith("map(") and signature.endswith(")"):
        key, _, value = signature[4:-1].partition(",")
        return cel.Type.Map(_type(cel, key.strip()), _type(cel, value.strip()))
    return cel.Type(signature)


@functools.cache
def environment() -> Environment:
    """The process's environment, built on first use (importing the runtime is not free, so
    a server without CEL rules never pays it)."""
    return Environment(_libraries())
