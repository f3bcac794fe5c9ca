"""google/cel-spec's conformance cases (tests/data/cel-spec) as plain Python data, and a runner.

Reading the textproto: the files are text-format ``cel.expr.conformance.test.SimpleTestFile``
messages whose expected values embed ``google.protobuf.Any`` expansions
(``[type.googleapis.com/google.protobuf.Timestamp] {...}``), escapes in bytes literals and
``inf``/``nan`` doubles. protobuf's own ``text_format`` reads all of that exactly; a hand-written
reader would have to re-implement the escapes and the Any expansions to reach the same result.
So the vendored ``.proto`` files (simple.proto and what it imports) are compiled once per
process with grpcio-tools' bundled ``protoc`` (a test dependency already, for the CRI stubs)
into a ``FileDescriptorSet``, loaded into a private ``DescriptorPool`` (no generated modules:
cel-spec's ``cel.expr`` package would clash with the ``cel`` module of the CEL binding), and
each file is parsed with ``text_format.Parse(..., descriptor_pool=pool)``.

The cases become :class:`Case` values whose inputs and expected results are Python values in
one neutral form (:data:`UInt` for uint64, :class:`TypeName` for type values, ``datetime`` and
``timedelta`` for timestamps and durations, dict/list for maps and lists). An expected error
passes when evaluation fails at all: cel-spec's messages are cel-go's, not a contract (its own
runner compares no error text).

Which sections apply to Kubernetes: :data:`SKIPPED_FILES` names the files kube-apiserver's CEL
environment cannot run (proto messages it has no types for, extension libraries it does not
enable), with the reason; inside the files that do apply, a case using a proto message (its
``container``, a message literal, an ``object_value`` of a message) is skipped as well.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "cel-spec"

# file -> why kube-apiserver v1.32 does not run its cases
SKIPPED_FILES: dict[str, str] = {
    "proto2": "proto2 messages (TestAllTypes): Kubernetes declares no proto message types",
    "proto2_ext": "proto2 extensions on messages: no proto message types in Kubernetes",
    "proto3": "proto3 messages (TestAllTypes): Kubernetes declares no proto message types",
    "enums": "proto enums of TestAllTypes: no proto message types in Kubernetes",
    "wrappers": "protobuf wrapper messages as values: Kubernetes' values are JSON/OpenAPI",
    "dynamic": "google.protobuf.Struct/Value/Any conversions of messages: no proto types",
    "namespace": "expression containers (proto package names): Kubernetes sets none",
    "type_deduction": "checker-deduced types of proto messages (typed_result), not values",
    "bindings_ext": "cel.bind (ext.Bindings) is not in Kubernetes' environment",
    "block_ext": "cel.@block is an optimizer-internal extension, not in Kubernetes",
    "encoders_ext": "base64 encoders (ext.Encoders) are not in Kubernetes' environment",
    "math_ext": "math.* (ext.Math) is not in Kubernetes' environment",
    "network_ext": "cel-go's network ext; Kubernetes has its own ip/cidr library "
    "(tested by its own cases, tests/data/k8s-cel)",
    "macros2": "two-variable comprehensions arrive at compatibility version 1.32; v1.32 "
    "evaluates at 1.31 (its n-1 compatibility version)",
    "unknowns": "partial evaluation with unknowns: no case, and not used by Kubernetes",
}

_PROTO_MARKERS = ("TestAllTypes", "NestedTestAllTypes", "google.protobuf.", "cel.expr.conformance")


class UInt(int):
    """A uint64 value (Python has one int type)."""

    def __repr__(self) -> str:
        return f"{int(self)}u"


class TypeName(str):
    """A CEL type value (``type(1) == int``): its name."""


@dataclass(frozen=True)
class Error:
    """An expected evaluation error (message as cel-spec words it)."""

    message: str


@dataclass(frozen=True)
class Case:
    file: str
    section: str
    name: str
    expr: str
    bindings: dict[str, Any] = field(default_factory=dict)
    decls: dict[str, str] = field(default_factory=dict)  # variable -> type ("int", "list(dyn)")
    disable_check: bool = False
    check_only: bool = False
    expected: Any = None  # a value, or Error
    skip: str = ""  # why this case does not apply to Kubernetes

    @property
    def id(self) -> str:
        return f"{self.file}/{self.section}/{self.name}"


class Unsupported(Exception):
    """A value the neutral form cannot hold (a proto message)."""


@functools.cache
def _pool() -> Any:
    import grpc_tools
    from google.protobuf import descriptor_pb2, descriptor_pool

    proto_root = DATA / "proto"
    include = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{proto_root}",
                f"-I{include}",
                "--include_imports",
                f"--descriptor_set_out={out}",
                *sources,
            ],
            check=True,
            capture_output=True,
        )
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    return pool


def _message(name: str) -> Any:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(name))()


_QUESTION = re.compile(r"(?<!\\)((?:\\\\)*)\\\?")


def _parse_file(path: Path) -> Any:
    from google.protobuf import text_format

    message = _message("cel.expr.conformance.test.SimpleTestFile")
    # protobuf's Python text_format reads the C escape "\?" (a "?") as a backslash and a "?"
    # (with a warning); cel-spec's bytes cases use it, so it is turned into "?" first (an
    # escaped backslash before a "?" is left as it is)
    text = _QUESTION.sub(lambda m: m.group(1) + "?", path.read_text(encoding="utf-8"))
    text_format.Parse(text, message, descriptor_pool=_pool())
    return message


def _any(message: Any) -> Any:
    """The Python value of an ``object_value`` (well-known types only)."""
    full = message.type_url.rsplit("/", 1)[-1]
    inner = _message(full)
    inner.ParseFromString(message.value)
    if full == "google.protobuf.Timestamp":
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return epoch + datetime.timedelta(seconds=inner.seconds, microseconds=inner.nanos // 1000)
    if full == "google.protobuf.Duration":
        return datetime.timedelta(seconds=inner.seconds, microseconds=inner.nanos // 1000)
    raise Unsupported(full)


def value_of(value: Any) -> Any:
    """A cel.expr.Value as a neutral Python value."""
    kind = value.WhichOneof("kind")
    if kind == "null_value":
        return None
    if kind in ("bool_value", "int64_value", "double_value", "string_value", "bytes_value"):
        return getattr(value, kind)
    if kind == "uint64_value":
        return UInt(value.uint64_value)
    if kind == "type_value":
        return TypeName(value.type_value)
    if kind == "list_value":
        return [value_of(v) for v in value.list_value.values]
    if kind == "map_value":
        return {value_of(e.key): value_of(e.value) for e in value.map_value.entries}
    if kind == "object_value":
        return _any(value.object_value)
    raise Unsupported(str(kind))


def type_of(decl_type: Any) -> str:
    """A cel.expr.Type as a signature string: int, uint, list(int), map(string, dyn), ..."""
    kind = decl_type.WhichOneof("type_kind")
    if kind == "primitive":
        names = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}
        return names[decl_type.primitive]
    if kind == "well_known":
        return {1: "any", 2: "google.protobuf.Timestamp", 3: "google.protobuf.Duration"}[decl_type.well_known]
    if kind == "list_type":
        return f"list({type_of(decl_type.list_type.elem_type)})"
    if kind == "map_type":
        return f"map({type_of(decl_type.map_type.key_type)}, {type_of(decl_type.map_type.value_type)})"
    if kind == "null":
        return "null_type"
    if kind == "dyn":
        return "dyn"
    if kind == "abstract_type":
        params = ", ".join(type_of(p) for p in decl_type.abstract_type.parameter_types)
        return f"{decl_type.abstract_type.name}({params})"
    if kind == "type":
        return f"type({type_of(decl_type.type)})"
    raise Unsupported(f"type {kind}")


def _case(file: str, section: str, test: Any) -> Case:
    skip = SKIPPED_FILES.get(file, "")
    if not skip and (test.container or any(m in test.expr for m in _PROTO_MARKERS)):
        skip = "proto message (container or message literal)"
    if not skip and test.disable_macros:
        skip = "macros disabled: Kubernetes always enables them"
    decls: dict[str, str] = {}
    bindings: dict[str, Any] = {}
    expected: Any = None
    try:
        for decl in test.type_env:
            if decl.WhichOneof("decl_kind") == "ident":
                decls[decl.name] = type_of(decl.ident.type)
            else:
                skip = skip or "declares functions (a runtime extension point, not Kubernetes')"
        for name, binding in test.bindings.items():
            bindings[name] = value_of(binding.value)
        matcher = test.WhichOneof("result_matcher")
        if matcher == "value":
            expected = value_of(test.value)
        elif matcher == "typed_result":
            expected = value_of(test.typed_result.result)
        elif matcher in ("eval_error", "any_eval_errors"):
            sets = [test.eval_error] if matcher == "eval_error" else list(test.any_eval_errors.errors)
            errors = sets[0].errors
            expected = Error(errors[0].message if errors else "")
        elif matcher is None:
            expected = True
        else:
            skip = skip or f"{matcher}: partial evaluation is not used by Kubernetes"
    except Unsupported as exc:
        skip = skip or f"proto message value ({exc})"
    return Case(
        file,
        section,
        test.name,
        test.expr,
        bindings,
        decls,
        test.disable_check,
        test.check_only,
        expected,
        skip,
    )


def cases() -> Iterator[Case]:
    for path in sorted((DATA / "testdata").glob("*.textproto")):
        parsed = _parse_file(path)
        for section in parsed.section:
            for test in section.test:
                yield _case(path.stem, section.name, test)


def same(expected: Any, actual: Any) -> bool:
    """CEL-typed equality of two neutral values (1 != 1u != 1.0; NaN equals NaN here)."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        return (math.isnan(expected) and math.isnan(actual)) or expected == actual
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(same(a, b) for a, b in zip(expected, actual, strict=True))
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(same(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


@dataclass
class Tally:
    passed: int = 0
    total: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> cases
    failures: list[tuple[str, str]] = field(default_factory=list)  # (case id, what happened)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


# evaluate(case) -> the neutral result, or raises for an evaluation or compile error
Evaluator = Callable[[Case], Any]


def run(evaluate: Evaluator, selected: list[Case] | None = None) -> Tally:
    tally = Tally()
    for case in selected if selected is not None else list(cases()):
        if case.skip:
            tally.skipped[case.skip] = tally.skipped.get(case.skip, 0) + 1
            continue
        tally.total += 1
        try:
            result: Any = evaluate(case)
        except Exception as exc:  # a runtime's error: pass when an error was expected
            if isinstance(case.expected, Error):
                tally.passed += 1
            else:
                tally.failures.append((case.id, f"error {type(exc).__name__}: {str(exc)[:120]}"))
            continue
        if case.check_only or (not isinstance(case.expected, Error) and same(case.expected, result)):
            tally.passed += 1
        else:
            tally.failures.append((case.id, f"got {result!r:.120}, want {case.expected!r:.120}"))
    return tally
