"""A ValidatingAdmissionPolicy compiled once, and its evaluation against one request.

Design: :func:`compile_policy` turns a policy's spec into CEL programs of the API server's
one CEL environment (:mod:`kprov.cluster.api.cel.environment`, as the CRD rules); the
admission plugin caches the result per (uid, generation), so a request never compiles.
:meth:`CompiledPolicy.evaluate` runs, as upstream's validator: the ``matchConditions``
(all must be true; an error is the failure policy's), then the ``variables`` (in order,
each seeing the earlier ones, only when an expression reads ``variables``), then every
validation (not true: a failure with the evaluated ``messageExpression``, else
``message``, else ``failed expression: <expression>``, and the validation's ``reason``,
Invalid by default), then the ``auditAnnotations`` (a string is published, null or blank
skipped). An evaluation error is a failure under failurePolicy Fail (reason empty, so
Invalid) and is ignored under Ignore.

All expressions of a request run against one context (:func:`activation_of`), holding the
request's values; the runtime wraps them and reads lazily, and the plugin still sets only
those some matching policy reads (:attr:`CompiledPolicy.reads`), pruned to the fields the
expressions read (:attr:`CompiledPolicy.field_reads`, :mod:`.reads`), which keeps its
held-input memo's keys small.

The runtime exposes no cost accounting; an expression that loops has its cost on the
request's values estimated before it runs (the environment's :class:`Program`, as cel-go's
per-call limit of 1,000,000: over it, the expression's error is ``operation cancelled: actual
cost limit exceeded``). The 10,000,000 budget per policy evaluation is not tracked. See
docs/decisions/0047 and 0053.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.cel.environment import CompileError, Context, Program, environment
from kprov.cluster.api.cel.lib_authz import AUTHORIZER
from kprov.cluster.apiserver.admission.vap.reads import ROOTS, ReadTree, expression_reads, merge_reads

__all__ = [
    "AuditAnnotation",
    "CompiledPolicy",
    "Decision",
    "activation_of",
    "all_true",
    "compile_policy",
    "conjunction",
]

_MAX_MESSAGE = 5 * 1024  # upstream's MaxEvaluatedMessageExpressionSizeBytes
# every variable a policy's expressions may read, declared dynamic (``params`` is refused at
# creation where the policy cannot have it: kprov.cluster.api.validation.admission_policy),
# but ``authorizer``: Kubernetes' authorizer library's type (kprov.cluster.api.cel.lib_authz)
_VARIABLES = {
    **{name: "dyn" for name in ("object", "oldObject", "request", "params", "namespaceObject", "variables")},
    "authorizer": AUTHORIZER,
}


@dataclass(frozen=True)
class _Expression:
    text: str
    program: Program
    names: frozenset[str]  # the identifiers it reads (object, params, variables, ...)

    @property
    def reads_variables(self) -> bool:
        return "variables" in self.names


@dataclass(frozen=True)
class _Validation:
    expression: _Expression
    message: str
    message_expression: _Expression | None
    reason: str


@dataclass(frozen=True)
class Decision:
    """One validation that did not admit: ``error`` when it failed to evaluate."""

    index: int
    message: str
    reason: str
    error: bool = False


@dataclass(frozen=True)
class AuditAnnotation:
    key: str
    value: str


@dataclass
class Result:
    decisions: list[Decision] = field(default_factory=list)
    annotations: list[AuditAnnotation] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledPolicy:
    name: str
    failure_policy: str
    match_conditions: tuple[tuple[str, _Expression], ...]
    variables: tuple[tuple[str, _Expression], ...]
    validations: tuple[_Validation, ...]
    audit_annotations: tuple[tuple[str, _Expression], ...]
    error: str = ""  # a configuration error: every matching request fails by the failure policy

    @functools.cached_property
    def _expressions(self) -> tuple[_Expression, ...]:
        expressions = [e for _, e in (*self.match_conditions, *self.variables, *self.audit_annotations)]
        for validation in self.validations:
            expressions.append(validation.expression)
            if validation.message_expression is not None:
                expressions.append(validation.message_expression)
        return tuple(expressions)

    @functools.cached_property
    def reads(self) -> frozenset[str]:
        """Every identifier any of its expressions reads: the request values to convert."""
        return frozenset().union(*(e.names for e in self._expressions))

    @functools.cached_property
    def field_reads(self) -> Mapping[str, ReadTree]:
        """What its expressions read of ``object``, ``oldObject`` and ``namespaceObject``
        (each root it reads; :func:`~kprov.cluster.apiserver.admission.vap.reads.prune`
        keeps only that)."""
        merged = merge_reads(expression_reads(e.text, ROOTS & e.names) for e in self._expressions)
        return {root: merged.get(root) for root in ROOTS & self.reads}  # not found by the scan: whole

    @functools.cached_property
    def plain_programs(self) -> tuple[Any, ...] | None:
        """The validations' programs when the policy is nothing more (no conditions,
        variables nor audit annotations): the common one-rule policy's short path."""
        if self.match_conditions or self.variables or self.audit_annotations or self.error:
            return None
        return tuple(v.expression.program for v in self.validations)

    def holds(self, activation: Any) -> bool:
        """True when :meth:`evaluate` would report nothing, found the short way: a policy of
        validations only, each true. False: evaluate (an error, a false one, or more to run)."""
        plain = self.plain_programs
        return plain is not None and all_true(plain, activation)

    def evaluate(self, activation: Any) -> Result:
        """Evaluate against ``activation``, a CEL context (:func:`activation_of`) holding
        ``object``, ``oldObject``, ``request``, ``namespaceObject`` and ``params``; this sets
        its ``variables``."""
        fail = self.failure_policy != "Ignore"
        result = Result()
        if self._needs_variables:
            self._set_variables(activation)
        for name, condition in self.match_conditions:
            try:
                outcome = condition.program.execute(activation)
            except Exception as exc:
                if fail:
                    result.decisions.append(
                        Decision(
                            -1,
                            f"failed to evaluate matchCondition '{name}': {_error(condition, exc)}",
                            "",
                            True,
                        )
                    )
                return result
            if outcome is not True:
                return result
        for index, validation in enumerate(self.validations):
            try:
                outcome = validation.expression.program.execute(activation)
            except Exception as exc:
                if fail:
                    result.decisions.append(Decision(index, _error(validation.expression, exc), "", True))
                continue
            if outcome is True:
                continue
            result.decisions.append(Decision(index, _message(validation, activation), validation.reason))
        for key, expression in self.audit_annotations:
            try:
                value = expression.program.execute(activation)
            except Exception as exc:
                if fail:
                    result.decisions.append(Decision(-1, _error(expression, exc), "", True))
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str):
                if fail:
                    result.decisions.append(
                        Decision(
                            -1,
                            f"valueExpression '{expression.text}' resulted in unsupported return type: "
                            f"{_cel_type(value)}. Return type must be either string or null.",
                            "",
                            True,
                        )
                    )
                continue
            result.annotations.append(AuditAnnotation(key, value.strip()[: 10 * 1024]))
        return result

    @functools.cached_property
    def _needs_variables(self) -> bool:
        expressions = [e for _, e in self.match_conditions] + [v.expression for v in self.validations]
        expressions += [v.message_expression for v in self.validations if v.message_expression is not None]
        expressions += [e for _, e in self.audit_annotations]
        return bool(self.variables) and any(e.reads_variables for e in expressions)

    def _set_variables(self, activation: Any) -> None:
        values: dict[str, Any] = {}
        activation.add_variable("variables", values)
        for name, expression in self.variables:
            try:  # a variable that fails is left out: reading it is the reader's error
                values[name] = expression.program.execute(activation)
            except Exception:  # noqa: S112 - as upstream's lazy evaluation, only reads fail
                continue
            activation.add_variable("variables", values)


def all_true(programs: tuple[Any, ...], activation: Any) -> bool:
    """Whether every program evaluates to true against ``activation`` (an error: False, for
    :meth:`CompiledPolicy.evaluate` to word)."""
    try:
        for program in programs:
            if program.execute(activation) is not True:
                return False
    except Exception:
        return False
    return True


def conjunction(programs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Programs that are all true exactly when every one of ``programs`` (expression text ->
    its compiled program, so each distinct expression once) is: one program
    ``(e1) && (e2) && ...`` (CEL's ``&&`` is true only when both sides are the boolean true; a
    false side wins over an error; a non-boolean side is an error), or, should that not
    compile, the programs themselves. Each binding call has a fixed cost, higher with the CPU's
    caches cold, so one call instead of several is the saving; a result other than true sends the
    caller to :meth:`CompiledPolicy.evaluate`, which runs each expression for its message.
    Each expression stands on lines of its own, so a trailing ``//`` comment ends with its
    line."""
    if len(programs) < 2:
        return tuple(programs.values())
    try:
        return (environment().compile(" && ".join(f"(\n{text}\n)" for text in programs), _VARIABLES),)
    except CompileError:  # (a nesting or size limit of the parser): each on its own
        return tuple(programs.values())


def activation_of(values: Mapping[str, Any]) -> Context:
    """A CEL context holding ``values`` (more are added with ``add_variable``): one context
    serves every policy a request matches."""
    return Context(values)


def _cel_type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "double", list: "list", dict: "map"}.get(type(value), "dyn")


def _error(expression: _Expression, exc: Exception) -> str:
    detail = f"no such key: {exc.args[0]}" if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"expression '{expression.text}' resulted in error: {detail}"


def _message(validation: _Validation, activation: Any) -> str:
    if validation.message_expression is not None:
        try:
            value = validation.message_expression.program.execute(activation)
        except Exception:  # upstream falls back to message, then the expression
            value = None
        if isinstance(value, str):
            text = value.strip()
            if text and len(text) <= _MAX_MESSAGE and "\n" not in text:
                return text
    if validation.message.strip():
        return validation.message.strip()
    return f"failed expression: {validation.expression.text.strip()}"


def _compile(text: str) -> _Expression:
    program = environment().compile(text, _VARIABLES)
    return _Expression(text, program, program.names)


def compile_policy(policy: Mapping[str, Any]) -> CompiledPolicy:
    spec = policy.get("spec") or {}
    name = str((policy.get("metadata") or {}).get("name", ""))
    failure = str(spec.get("failurePolicy") or "Fail")
    try:
        return CompiledPolicy(
            name=name,
            failure_policy=failure,
            match_conditions=tuple(
                (str(c.get("name", "")), _compile(str(c.get("expression", ""))))
                for c in spec.get("matchConditions") or ()
            ),
            variables=tuple(
                (str(v.get("name", "")), _compile(str(v.get("expression", ""))))
                for v in spec.get("variables") or ()
            ),
            validations=tuple(
                _Validation(
                    _compile(str(v.get("expression", ""))),
                    str(v.get("message") or ""),
                    _compile(str(v["messageExpression"])) if v.get("messageExpression") else None,
                    str(v.get("reason") or "Invalid"),
                )
                for v in spec.get("validations") or ()
            ),
            audit_annotations=tuple(
                (str(a.get("key", "")), _compile(str(a.get("valueExpression", ""))))
                for a in spec.get("auditAnnotations") or ()
            ),
        )
    except Exception as exc:  # stored before validation compiled expressions, or a binding change
        return CompiledPolicy(name, failure, (), (), (), (), error=f"compilation failed: {exc}")
