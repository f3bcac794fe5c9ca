"""x-kubernetes-validations: CEL rules of custom resource schemas.

Design: rules are compiled once per schema (:func:`compile_rules`, called by
:func:`kprov.cluster.api.crd.structural.compile_schema`) in the API server's one CEL
environment (:mod:`kprov.cluster.api.cel.environment`: standard CEL, the extended strings,
optionals and every Kubernetes library), with ``self`` and ``oldSelf`` declared: typed
from the schema for a string or a boolean (:func:`self_type`), else dynamic.

Semantics as kube-apiserver's: ``self`` is the value at the rule's node; a rule naming
``oldSelf`` is a transition rule, evaluated on update only where an old value exists (or
always with ``optionalOldSelf``); a false result is a cause at the node's path (plus the
rule's ``fieldPath``), worded ``Invalid value: "<type>": <message>`` with ``message``, the
evaluated ``messageExpression``, or ``failed rule: <rule>``, of the rule's ``reason``.

Speed: a node's rules are also compiled as one conjunction (:class:`RuleSet`), so a valid
value, the common case, costs one runtime call per node rather than one per rule; the rules
are run one by one only when the conjunction is not true.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.cel.environment import (
    COST_EXCEEDED,
    CompileError,
    Context,
    CostLimitExceeded,
    Environment,
    Program,
    environment,
)
from kprov.cluster.api.errors import Cause

__all__ = ["CompiledRule", "RuleError", "RuleSet", "compile_rules", "evaluate_rules", "self_type"]

_REASONS = {
    "FieldValueInvalid": "FieldValueInvalid",
    "FieldValueForbidden": "FieldValueForbidden",
    "FieldValueRequired": "FieldValueRequired",
    "FieldValueDuplicate": "FieldValueDuplicate",
}
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


_VARIABLES = {"self": "dyn", "oldSelf": "dyn"}
# a scalar's CEL type by its schema type, as upstream's SchemaDeclType; a string of a format
# Kubernetes types otherwise (bytes, duration, timestamp) and int-or-string stay dyn, as do
# objects and lists (kprov's own checker, typecheck.py, checks their field selections), and
# numbers: Kubernetes enables cross-type numeric comparisons (``self < 1.5`` on an integer),
# which the runtime's checker refuses between typed operands
_SCALARS = {"string": "string", "boolean": "bool"}
_TYPED_FORMATS = frozenset({"byte", "duration", "date", "date-time"})


def self_type(schema: Mapping[str, Any]) -> str:
    """The type ``self`` (and ``oldSelf``) is declared with for the rules of ``schema``."""
    kind = schema.get("type")
    if not isinstance(kind, str) or kind not in _SCALARS or schema.get("x-kubernetes-int-or-string"):
        return "dyn"
    if kind == "string" and schema.get("format") in _TYPED_FORMATS:
        return "dyn"
    return _SCALARS[kind]


class RuleError(ValueError):
    """A rule that does not compile; ``index`` is its place in the list."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class CompiledRule:
    rule: str
    program: Program
    message: str = ""
    message_program: Program | None = None
    reason: str = "FieldValueInvalid"
    field_path: str = ""
    transition: bool = False
    optional_old_self: bool = False

    @property
    def error_name(self) -> str:
        """How errors name the rule: its message, else its text (upstream's ruleErrorString)."""
        return self.message.strip() or self.rule.strip()


@dataclass(frozen=True)
class RuleSet:
    """A node's compiled rules, and the fast path of their common case: every rule holds.
    ``on_create`` is one program, the conjunction of the rules that need no old value;
    ``on_update`` the same with the transition rules (``oldSelf`` bound). CEL's ``&&`` is
    true only when each side is true (an error or a false anywhere makes it not true), so a
    true conjunction answers for all its rules in one runtime call; anything else is judged
    rule by rule, as before, for the causes and their messages. A conjunction that is
    estimated over the cost limit is likewise judged rule by rule (its estimate is at
    least each rule's)."""

    rules: tuple[CompiledRule, ...] = ()
    on_create: Program | None = None
    on_update: Program | None = None
    outside: tuple[CompiledRule, ...] = ()  # in neither conjunction (optionalOldSelf)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[CompiledRule]:
        return iter(self.rules)


def _together(env: Environment, rules: list[CompiledRule], variables: Mapping[str, str]) -> Program | None:
    """The conjunction of ``rules`` as one program (a lone rule's own; None for none, or if
    the runtime refuses it: the rules are then run one by one)."""
    if len(rules) < 2:
        return rules[0].program if rules else None
    # a newline ends a trailing ``//`` comment before the closing parenthesis
    text = " && ".join(f"({rule.rule}\n)" for rule in rules)
    try:
        return env.compile(text, variables)  # checked as each rule was: the same semantics
    except CompileError:
        return None


def compile_rules(rules: tuple[Mapping[str, Any], ...], typed: str = "dyn") -> RuleSet:
    """Compile every rule, ``self`` and ``oldSelf`` declared ``typed`` (:func:`self_type`);
    raises RuleError for the first one that does not compile."""
    if not rules:
        return RuleSet()
    env = environment()
    variables = _VARIABLES if typed == "dyn" else {"self": typed, "oldSelf": typed}
    compiled = []
    for index, rule in enumerate(rules):
        text = str(rule.get("rule") or "")
        try:
            program = env.compile(text, variables)
            message_expression = rule.get("messageExpression")
            message_program = env.compile(str(message_expression), variables) if message_expression else None
        except CompileError as exc:
            raise RuleError(index, f"compilation failed: {exc}") from None
        compiled.append(
            CompiledRule(
                rule=text,
                program=program,
                message=str(rule.get("message") or ""),
                message_program=message_program,
                reason=_REASONS.get(str(rule.get("reason") or ""), "FieldValueInvalid"),
                field_path=str(rule.get("fieldPath") or ""),
                transition="oldSelf" in program.names,
                optional_old_self=bool(rule.get("optionalOldSelf")),
            )
        )
    plain = [rule for rule in compiled if not rule.optional_old_self]
    return RuleSet(
        tuple(compiled),
        on_create=_together(env, [rule for rule in plain if not rule.transition], variables),
        on_update=_together(env, plain, variables),
        outside=tuple(rule for rule in compiled if rule.optional_old_self),
    )


def _holds(program: Program, context: Context) -> bool:
    """Is ``program`` true in ``context`` (no error, within the cost limit)?"""
    try:
        return program.execute(context) is True
    except Exception:  # noqa: BLE001 - judged rule by rule then, for the causes
        return False


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "object")


def evaluate_rules(rules: RuleSet, value: Any, old: Any, has_old: bool, path: str) -> list[Cause]:
    """The causes of the rules ``value`` (at ``path``; ``old`` the previous value when
    ``has_old``) breaks."""
    # the runtime's activation wraps the values and reads them lazily (evaluating against
    # plain data would convert the whole value first); one serves the conjunction and the rules
    context = Context({"self": value, "oldSelf": old} if has_old else {"self": value})
    together = rules.on_update if has_old else rules.on_create
    remaining = rules.rules
    if together is not None and _holds(together, context):
        # every rule of the conjunction holds: only those outside it are left
        remaining = rules.outside
        if not remaining:
            return []
    causes: list[Cause] = []
    for rule in remaining:
        if rule.transition and not has_old and not rule.optional_old_self:
            continue
        where = path + rule.field_path if rule.field_path.startswith((".", "[")) else path
        try:
            result = rule.program.execute(context)
        except CostLimitExceeded:  # refused before it runs, as cel-go's tracker stops it; no rule after it
            causes.append(Cause(where, "FieldValueInvalid", _worded(
                "FieldValueInvalid", value, f"'{COST_EXCEEDED}': no further validation rules will be run "
                f"due to call cost exceeds limit for rule: {rule.error_name}")))
            break
        except Exception as exc:  # an evaluation error is the rule's failure, as upstream
            detail = f"{exc} evaluating rule: {rule.error_name}"
            causes.append(Cause(where, "FieldValueInvalid", _worded("FieldValueInvalid", value, detail)))
            continue
        if result is True:
            continue
        message = rule.message or f"failed rule: {rule.rule}"
        if rule.message_program is not None:
            try:
                evaluated = rule.message_program.execute(context)
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
