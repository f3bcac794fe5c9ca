"""A webhook's ``matchConditions``: CEL expressions that must all be true for it to be called.

As upstream's (GA in 1.30): each condition is evaluated, after the webhook's rules and
selectors matched, against ``object``, ``oldObject`` and ``request`` (the AdmissionRequest the
webhook would be sent); a false one skips the webhook. A condition that fails to compile or
to evaluate is an error the caller handles by the webhook's failurePolicy. ``authorizer``
asks the server's authorizer for the request's user (:mod:`.vap.authorizer`). Compiled
programs are kept per webhook (its configuration object's identity and index), so a request
never compiles; they compile in the API server's one CEL environment
(:mod:`kprov.cluster.api.cel.environment`) and the context is the ValidatingAdmissionPolicy
evaluator's
(:func:`~kprov.cluster.apiserver.admission.vap.evaluator.activation_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kprov.cluster.api.cel.environment import CompileError, environment
from kprov.cluster.api.cel.lib_authz import AUTHORIZER, deciding
from kprov.cluster.apiserver.admission.vap.authorizer import authorizer_variable, decider_of
from kprov.cluster.apiserver.admission.vap.evaluator import activation_of
from kprov.cluster.apiserver.context import ApiContext

__all__ = ["ConditionError", "conditions_admit"]

_VARIABLES = {"object": "dyn", "oldObject": "dyn", "request": "dyn", "authorizer": AUTHORIZER}


class _Compiled(dict[tuple[tuple[str, str], ...], list[tuple[str, Any]]]):
    """The server's compiled match conditions, by their (name, expression) pairs."""


class ConditionError(Exception):
    """A condition that did not compile or evaluate (the message names it)."""


def _compiled(ctx: ApiContext, conditions: Sequence[Mapping[str, Any]]) -> list[tuple[str, Any]]:
    cache = ctx.shared(_Compiled, _Compiled)
    key = tuple((str(c.get("name", "")), str(c.get("expression", ""))) for c in conditions)
    found = cache.get(key)
    if found is None:
        if len(cache) > 1000:
            cache.clear()
        programs = []
        for name, expression in key:
            try:
                programs.append((name, environment().compile(expression, _VARIABLES)))
            except CompileError as exc:
                raise ConditionError(f"compilation failed for matchCondition '{name}': {exc}") from None
        found = cache[key] = programs
    return found


def conditions_admit(
    ctx: ApiContext, hook: Mapping[str, Any], obj: Any, old: Any, request: Mapping[str, Any]
) -> bool:
    """True when the hook has no matchConditions or all are true; False at the first false
    one; ConditionError when one cannot be evaluated."""
    conditions = hook.get("matchConditions") or []
    if not conditions:
        return True
    programs = _compiled(ctx, conditions)
    values = {"object": obj, "oldObject": old, "request": dict(request)}
    if any("authorizer" in program.names for _, program in programs):
        values["authorizer"] = authorizer_variable(request.get("userInfo") or {}, _resource(request))
    activation = activation_of(values)
    with deciding(decider_of(ctx)):
        for name, program in programs:
            try:
                outcome = program.execute(activation)
            except Exception as exc:  # an evaluation error
                raise ConditionError(f"failed to evaluate matchCondition '{name}': {exc}") from None
            if outcome is not True:
                return False
    return True


def _resource(request: Mapping[str, Any]) -> dict[str, str]:
    """The AdmissionRequest's resource, as ``authorizer.requestResource`` holds it."""
    gvr = request.get("resource") or {}
    return {
        "group": str(gvr.get("group", "")),
        "resource": str(gvr.get("resource", "")),
        "subresource": str(request.get("subResource") or ""),
        "namespace": str(request.get("namespace") or ""),
        "name": str(request.get("name") or ""),
    }
