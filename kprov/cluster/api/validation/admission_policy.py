"""Validation of ValidatingAdmissionPolicies and their Bindings (admissionregistration.k8s.io/v1).

Design: the rules and field paths of kube-apiserver's admissionregistration validation
(``spec.failurePolicy``, ``spec.matchConstraints.resourceRules[i]...``, ``spec.validations[i]
.expression``, ``spec.validationActions``, ``spec.paramRef``...). Every CEL expression is
compiled here (:func:`check_expression`), so one that does not compile is refused at create
time as upstream does (``compilation failed: ERROR: <input>:L:C: ...``), including a
reference to a variable the policy does not declare (``params`` without ``paramKind``) or
to a function the API server's CEL environment does not have
(:mod:`kprov.cluster.api.cel.environment`, whose type checker words the error as cel-go's).
The ``authorizer`` variable is declared with Kubernetes' authorizer library's type
(:mod:`kprov.cluster.api.cel.lib_authz`), so its checks are type-checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kprov.cluster.api.cel.environment import CompileError, environment
from kprov.cluster.api.cel.lib_authz import AUTHORIZER
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.field_errors import Errors

__all__ = [
    "BASE_VARIABLES",
    "check_expression",
    "validate_match_conditions",
    "validate_policy",
    "validate_policy_binding",
]

BASE_VARIABLES = frozenset({"object", "oldObject", "request", "namespaceObject", "variables", "authorizer"})
_FAILURE_POLICIES = ("Fail", "Ignore")
_MATCH_POLICIES = ("Equivalent", "Exact")
_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized")
_ACTIONS = ("Audit", "Deny", "Warn")
_SCOPES = ("*", "Cluster", "Namespaced")


def check_expression(text: str, declared: frozenset[str]) -> str | None:
    """None when ``text`` compiles with only ``declared`` variables (and the environment's
    functions), else upstream's detail."""
    try:
        environment().compile(text, {n: AUTHORIZER if n == "authorizer" else "dyn" for n in declared})
    except CompileError as exc:
        return f"compilation failed: {exc}"
    return None


def _expression(errors: Errors, item: dict[str, Any], key: str, path: str, declared: frozenset[str]) -> None:
    text = item.get(key)
    if not isinstance(text, str) or not text.strip():
        errors.required(f"{path}.{key}", "expression is not specified" if key == "expression" else "")
        return
    detail = check_expression(text, declared)
    if detail is not None:
        errors.invalid(f"{path}.{key}", text, detail)


def _has_wildcard(values: Sequence[Any]) -> bool:
    return "*" in values


def _rule(errors: Errors, rule: Any, path: str) -> None:
    if not isinstance(rule, dict):
        return
    operations = rule.get("operations") or []
    if not operations:
        errors.required(f"{path}.operations")
    elif len(operations) > 1 and _has_wildcard(operations):
        errors.invalid(
            f"{path}.operations", operations, "if '*' is present, must not specify other operations"
        )
    for index, operation in enumerate(operations):
        if operation not in _OPERATIONS:
            errors.not_supported(f"{path}.operations[{index}]", operation, _OPERATIONS)
    for key, word in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        values = rule.get(key) or []
        if not values:
            errors.required(f"{path}.{key}")
        elif len(values) > 1 and _has_wildcard(values):
            errors.invalid(f"{path}.{key}", values, f"if '*' is present, must not specify other {word}")
    if not rule.get("resources"):
        errors.required(f"{path}.resources")
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        errors.not_supported(f"{path}.scope", scope, _SCOPES)


def _selector(errors: Errors, selector: Any, path: str) -> None:
    if selector is None:
        errors.required(path)
        return
    try:
        label_selector_from_object(selector)
    except (SelectorError, ValueError) as exc:
        errors.invalid(path, selector, str(exc))


def _match_resources(errors: Errors, match: Any, path: str) -> None:
    if not isinstance(match, dict):
        return
    policy = match.get("matchPolicy")
    if policy is None:
        errors.required(f"{path}.matchPolicy")
    elif policy not in _MATCH_POLICIES:
        errors.not_supported(f"{path}.matchPolicy", policy, _MATCH_POLICIES)
    _selector(errors, match.get("namespaceSelector"), f"{path}.namespaceSelector")
    _selector(errors, match.get("objectSelector"), f"{path}.objectSelector")
    for key in ("resourceRules", "excludeResourceRules"):
        for index, rule in enumerate(match.get(key) or []):
            _rule(errors, rule, f"{path}.{key}[{index}]")


def _declared(spec: dict[str, Any]) -> frozenset[str]:
    return BASE_VARIABLES | {"params"} if spec.get("paramKind") else BASE_VARIABLES


def validate_match_conditions(
    errors: Errors, conditions: list[Any], path: str, declared: frozenset[str]
) -> None:
    """``matchConditions`` (of a policy or a webhook): names required and unique, each
    expression compiling with only the ``declared`` variables."""
    names: set[str] = set()
    for index, condition in enumerate(conditions):
        where = f"{path}[{index}]"
        if not isinstance(condition, dict):
            continue
        name = condition.get("name")
        if not name:
            errors.required(f"{where}.name")
        elif name in names:
            errors.duplicate(f"{where}.name", name)
        names.add(str(name))
        _expression(errors, condition, "expression", where, declared)


def validate_policy(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    failure = spec.get("failurePolicy")
    if failure is None:
        errors.required("spec.failurePolicy")
    elif failure not in _FAILURE_POLICIES:
        errors.not_supported("spec.failurePolicy", failure, _FAILURE_POLICIES)
    param_kind = spec.get("paramKind")
    if isinstance(param_kind, dict):
        for key in ("apiVersion", "kind"):
            if not param_kind.get(key):
                errors.required(f"spec.paramKind.{key}")
    match = spec.get("matchConstraints")
    if not isinstance(match, dict):
        errors.required("spec.matchConstraints")
    else:
        _match_resources(errors, match, "spec.matchConstraints")
        if not match.get("resourceRules"):
            errors.required("spec.matchConstraints.resourceRules")
    declared = _declared(spec)
    validate_match_conditions(errors, spec.get("matchConditions") or [], "spec.matchConditions", declared)
    for index, variable in enumerate(spec.get("variables") or []):
        path = f"spec.variables[{index}]"
        if not isinstance(variable, dict):
            continue
        if not variable.get("name"):
            errors.required(f"{path}.name")
        _expression(errors, variable, "expression", path, declared)
    validations, annotations = spec.get("validations") or [], spec.get("auditAnnotations") or []
    if not validations and not annotations:
        detail = "validations or auditAnnotations must contain at least one item"
        errors.required("spec.validations", detail)
        errors.required("spec.auditAnnotations", detail)
        return
    for index, validation in enumerate(validations):
        path = f"spec.validations[{index}]"
        if not isinstance(validation, dict):
            continue
        _expression(errors, validation, "expression", path, declared)
        message = validation.get("message")
        if isinstance(message, str) and "\n" in message:
            errors.invalid(f"{path}.message", message, "must not contain line breaks")
        elif isinstance(message, str) and message and not message.strip():
            errors.required(f"{path}.message", "message must be non-empty if specified")
        if validation.get("messageExpression"):
            _expression(errors, validation, "messageExpression", path, declared)
        reason = validation.get("reason")
        if reason is not None and reason not in _REASONS:
            errors.not_supported(f"{path}.reason", reason, _REASONS)
    keys: set[str] = set()
    for index, annotation in enumerate(annotations):
        path = f"spec.auditAnnotations[{index}]"
        if not isinstance(annotation, dict):
            continue
        annotation_key = str(annotation.get("key") or "")
        if not annotation_key:
            errors.required(f"{path}.key")
        elif annotation_key in keys:
            errors.duplicate(f"{path}.key", annotation_key)
        keys.add(annotation_key)
        if not annotation.get("valueExpression"):
            errors.required(f"{path}.valueExpression", "valueExpression is not specified")
        else:
            _expression(errors, annotation, "valueExpression", path, declared)


def validate_policy_binding(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if not spec.get("policyName"):
        errors.required("spec.policyName")
    param_ref = spec.get("paramRef")
    if isinstance(param_ref, dict):
        name, selector = param_ref.get("name"), param_ref.get("selector")
        if name and selector is not None:
            errors.forbidden("spec.paramRef.name", "name and selector are mutually exclusive")
            errors.forbidden("spec.paramRef.selector", "name and selector are mutually exclusive")
        if not name and selector is None:
            errors.required("spec.paramRef", "one of name or selector must be specified")
        action = param_ref.get("parameterNotFoundAction")
        if not action:
            errors.required("spec.paramRef.parameterNotFoundAction")
        elif action not in ("Deny", "Allow"):
            errors.not_supported("spec.paramRef.parameterNotFoundAction", action, ("Deny", "Allow"))
    _match_resources(errors, spec.get("matchResources"), "spec.matchResources")
    actions = spec.get("validationActions") or []
    seen: set[str] = set()
    for index, action in enumerate(actions):
        if action not in _ACTIONS:
            errors.not_supported(f"spec.validationActions[{index}]", action, _ACTIONS)
        if action in seen:
            errors.duplicate(f"spec.validationActions[{index}]", action)
        seen.add(str(action))
    if "Deny" in seen and "Warn" in seen:
        errors.invalid(
            "spec.validationActions",
            actions,
            "must not contain both Deny and Warn (repeating the same validation failure information "
            "in the API response and headers serves no purpose)",
        )
    if not seen:
        errors.required("spec.validationActions", "at least one validation action is required")
