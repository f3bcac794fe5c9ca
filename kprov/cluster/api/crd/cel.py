"""x-kubernetes-validations: CEL rules of custom resource schemas.

Design: rules are compiled once per schema (:func:`compile_rules`, called by
:func:`kprov.cluster.api.crd.structural.compile_schema`) with ``common-expression-language``
(PyPI; Python bindings of the cel-rust interpreter). It was chosen over ``cel-python``
(celpy): it is maintained (releases through 2026), compiles an expression once into a
reusable ``Program``, evaluates in Rust (celpy is a pure-Python tree walker, an order of
magnitude slower per evaluation) and covers CEL's standard macros and string functions
that CRD rules use (has, all, exists, size, startsWith, matches...); a rule calling the
binding's extension libraries (``sum``, ``min``, ``indexOf``, ``math.*``, ``sets.*``... as
cel-go's and Kubernetes' list and string libraries) runs with them. Kubernetes' quantity,
url and ip libraries are not part of it; a rule calling them fails when evaluated.

Semantics as kube-apiserver's: ``self`` is the value at the rule's node; a rule naming
``oldSelf`` is a transition rule, evaluated on update only where an old value exists (or
always with ``optionalOldSelf``); a false result is a cause at the node's path (plus the
rule's ``fieldPath``), worded ``Invalid value: "<type>": <message>`` with ``message``, the
evaluated ``messageExpression``, or ``failed rule: <rule>``, of the rule's ``reason``.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.cel.parser import Node
from kprov.cluster.api.cel.runtime_cost import PER_CALL_LIMIT, loop_tree, runtime_cost
from kprov.cluster.api.errors import Cause

__all__ = ["CompiledRule", "RuleError", "compile_rules", "evaluate_rules"]

_REASONS = {
    "FieldValueInvalid": "FieldValueInvalid",
    "FieldValueForbidden": "FieldValueForbidden",
    "FieldValueRequired": "FieldValueRequired",
    "FieldValueDuplicate": "FieldValueDuplicate",
}
_COST_EXCEEDED = "operation cancelled: actual cost limit exceeded"  # cel-go's error
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


class RuleError(ValueError):
    """A rule that does not compile; ``index`` is its place in the list."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


_VARIABLE = re.compile(r"\b(self|oldSelf)\b(\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?(\s*\()?")
_MACROS = frozenset(
    {
        "all",
        "exists",
        "exists_one",
        "map",
        "filter",
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "isSorted",
        "sum",
        "min",
        "max",
        "indexOf",
        "lastIndexOf",
    }
)


def _projection(text: str) -> tuple[str, ...] | None:
    """The fields of ``self``/``oldSelf`` a rule reads, when it reads them only as
    ``self.<field>``; None when it uses the whole value (``size(self)``, ``self.all(...)``).
    Handing the evaluator only those fields saves converting the rest: the binding's
    conversion of a 20-field object cost ~300 us per evaluation, the rule itself ~10."""
    fields: set[str] = set()
    for match in _VARIABLE.finditer(text):
        name = match.group(3)
        if name is None or name in _MACROS or match.group(4):
            return None
        fields.add(name)
    return tuple(sorted(fields))


@dataclass(frozen=True)
class CompiledRule:
    rule: str
    program: Any
    message: str = ""
    message_program: Any = None
    reason: str = "FieldValueInvalid"
    field_path: str = ""
    transition: bool = False
    optional_old_self: bool = False
    fields: tuple[str, ...] | None = None  # what the rule and its message read of self
    loop_tree: Node | None = None  # the syntax tree of a rule that loops: its cost is estimated

    @property
    def error_name(self) -> str:
        """How errors name the rule: its message, else its text (upstream's ruleErrorString)."""
        return self.message.strip() or self.rule.strip()


def _cel() -> Any:
    """The CEL module, imported on first use: its package imports a CLI (rich, prompt
    toolkit) that costs ~230 ms, which every process importing the API types would pay."""
    return importlib.import_module("cel")


def compile_rules(rules: tuple[Mapping[str, Any], ...]) -> tuple[CompiledRule, ...]:
    """Compile every rule; raises RuleError for the first one that does not compile."""
    if not rules:
        return ()
    cel = _cel()
    compiled = []
    for index, rule in enumerate(rules):
        text = str(rule.get("rule") or "")
        try:
            program = cel.compile(text)
            message_expression = rule.get("messageExpression")
            message_program = cel.compile(str(message_expression)) if message_expression else None
        except Exception as exc:  # the binding raises ValueError for syntax, others for the rest
            raise RuleError(index, f"compilation failed: {exc}") from None
        compiled.append(
            CompiledRule(
                rule=text,
                program=program,
                message=str(rule.get("message") or ""),
                message_program=message_program,
                reason=_REASONS.get(str(rule.get("reason") or ""), "FieldValueInvalid"),
                field_path=str(rule.get("fieldPath") or ""),
                transition="oldSelf" in program.variables(),
                fields=_fields_of(text, str(message_expression or "")),
                optional_old_self=bool(rule.get("optionalOldSelf")),
                loop_tree=loop_tree(text),
            )
        )
    return tuple(compiled)


def _fields_of(rule: str, message_expression: str) -> tuple[str, ...] | None:
    rule_fields = _projection(rule)
    message_fields = _projection(message_expression) if message_expression else ()
    if rule_fields is None or message_fields is None:
        return None
    return tuple(sorted({*rule_fields, *message_fields}))


def _project(value: Any, fields: tuple[str, ...] | None) -> Any:
    if fields is None or not isinstance(value, dict):
        return value
    return {k: value[k] for k in fields if k in value}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "object")


def _run(program: Any, value: Any, old: Any, has_old: bool) -> Any:
    values = {"self": value, "oldSelf": old} if has_old else {"self": value}
    if not _calls_extensions(program):
        return program.execute(values)
    context = extended_context()  # (only for the programs that call them: ~20 us to fill)
    for name, item in values.items():
        context.add_variable(name, item)
    return program.execute(context)


def _calls_extensions(program: Any) -> bool:
    """Does ``program`` call a function of the binding's extension libraries (cel-go's and
    Kubernetes' list, string, math and set functions: ``sum``, ``indexOf``, ``math.abs``...)?"""
    return bool(_extension_names() & set(program.functions()))


@functools.cache
def _extension_names() -> frozenset[str]:
    return frozenset(extended_context().functions)


def _is_sorted(items: Any) -> bool:
    return all(a <= b for a, b in zip(items, items[1:], strict=False))


def extended_context() -> Any:
    """A CEL context with the binding's extension libraries and the Kubernetes list functions
    they lack (``isSorted``)."""
    context = _cel().Context()
    importlib.import_module("cel.stdlib").add_stdlib_to_context(context)
    context.add_function("isSorted", _is_sorted)
    return context


def evaluate_rules(
    rules: tuple[CompiledRule, ...], value: Any, old: Any, has_old: bool, path: str
) -> list[Cause]:
    """The causes of the rules ``value`` (at ``path``; ``old`` the previous value when
    ``has_old``) breaks."""
    causes: list[Cause] = []
    for rule in rules:
        if rule.transition and not has_old and not rule.optional_old_self:
            continue
        where = path + rule.field_path if rule.field_path.startswith((".", "[")) else path
        if rule.loop_tree is not None and runtime_cost(
            rule.loop_tree, {"self": value, "oldSelf": old} if has_old else {"self": value}
        ) > PER_CALL_LIMIT:  # refused before it runs, as cel-go's tracker stops it; no rule after it
            causes.append(Cause(where, "FieldValueInvalid", _worded(
                "FieldValueInvalid", value, f"'{_COST_EXCEEDED}': no further validation rules will be run "
                f"due to call cost exceeds limit for rule: {rule.error_name}")))
            break
        try:
            result = _run(rule.program, _project(value, rule.fields), _project(old, rule.fields), has_old)
        except Exception as exc:  # an evaluation error is the rule's failure, as upstream
            detail = f"{exc} evaluating rule: {rule.error_name}"
            causes.append(Cause(where, "FieldValueInvalid", _worded("FieldValueInvalid", value, detail)))
            continue
        if result is True:
            continue
        message = rule.message or f"failed rule: {rule.rule}"
        if rule.message_program is not None:
            try:
                evaluated = _run(
                    rule.message_program, _project(value, rule.fields), _project(old, rule.fields), has_old
                )
                if isinstance(evaluated, str) and evaluated.strip():
                    message = evaluated
            except Exception:  # upstream falls back to message / the rule
                pass
        causes.append(Cause(where, rule.reason, _worded(rule.reason, value, message)))
    return causes


def _worded(reason: str, value: Any, message: str) -> str:
    if reason == "FieldValueForbidden":
        return f"Forbidden: {message}"
    if reason == "FieldValueRequired":
        return f"Required value: {message}"
    return f'Invalid value: "{_type_name(value)}": {message}'
