"""Kubernetes' authorizer library (upstream library/authz.go) on the CEL runtime.

Design: the ``authorizer`` variable of a ValidatingAdmissionPolicy or a webhook's
``matchConditions`` is a ``kubernetes.authorization.Authorizer`` value holding the
request's user; ``authorizer.serviceAccount(ns, name)`` one for that service account.
``.path(p)`` gives a ``PathCheck``; ``.group(g).resource(r)`` a ``ResourceCheck``
narrowed by ``.subresource``, ``.namespace`` and ``.name``; ``authorizer.requestResource``
is the request's own resource as a ``ResourceCheck``. ``.check(verb)`` asks the API
server's real authorizer and gives a ``Decision`` (``allowed()``, ``reason()``,
``errored()``, ``error()``). Every value is a small message (the runtime carries messages
by value), so the user travels inside the values as JSON. A path check is a
``ResourceCheck`` holding a path, not upstream's own ``PathCheck`` type: the runtime
registers implementations by argument kind, and two ``check(<message>, string)``
overloads collide; so the checker lets ``.path(p).name(n)`` through, which upstream refuses.

The library lives in the cluster's API layer and knows no server: whoever evaluates sets
:data:`DECIDER` (a context variable: the runtime calls the implementations synchronously in
the evaluating thread and task) to a function answering (allowed, reason) for a user, a
verb and resource attributes or a path (:func:`deciding`). With none set, a check errors,
as upstream's does without an authorizer. A decision depends on more than the object, so
the admission plugin never memoizes a policy that reads ``authorizer`` on object fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kprov.cluster.api.cel.environment import Library

__all__ = ["AUTHORIZER", "DECIDER", "Decider", "LIBRARY", "authorizer_value", "deciding"]

_PKG = "kubernetes.authorization"
AUTHORIZER = f"{_PKG}.Authorizer"
_GROUP = f"{_PKG}.GroupCheck"
_RESOURCE = f"{_PKG}.ResourceCheck"
_DECISION = f"{_PKG}.Decision"
_RESOURCE_FIELDS = ("user", "group", "resource", "subresource", "namespace", "name", "path")

Decider = Callable[[Mapping[str, Any], str, "Mapping[str, str] | None", "str | None"], "tuple[bool, str]"]
"""(user, verb, resource attributes or None, path or None) -> (allowed, reason)."""

DECIDER: contextvars.ContextVar[Decider | None] = contextvars.ContextVar("kprov_cel_authorizer", default=None)


@contextlib.contextmanager
def deciding(decider: Decider) -> Iterator[None]:
    """Checks made by evaluations inside the block ask ``decider``."""
    token = DECIDER.set(decider)
    try:
        yield
    finally:
        DECIDER.reset(token)


def _user_json(user: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "username": str(user.get("username", "")),
            "uid": str(user.get("uid", "")),
            "groups": list(user.get("groups") or ()),
            "extra": {k: list(v) for k, v in (user.get("extra") or {}).items()},
        },
        sort_keys=True,
    )


def authorizer_value(classes: Mapping[str, Any], user: Mapping[str, Any], request: Mapping[str, str]) -> Any:
    """The ``authorizer`` variable for a request by ``user`` (``userInfo``'s shape) on the
    resource ``request`` (group, resource, subresource, namespace, name)."""
    text = _user_json(user)
    fields = {k: str(request.get(k, "")) for k in _RESOURCE_FIELDS[1:-1]}
    return classes[AUTHORIZER](user=text, requestResource=classes[_RESOURCE](user=text, **fields))


def _decide(
    user_text: str, verb: str, resource: Mapping[str, str] | None, path: str | None
) -> tuple[bool, str, str]:
    decider = DECIDER.get()
    if decider is None:
        return False, "", "no authorizer is configured for this evaluation"
    try:
        allowed, reason = decider(json.loads(user_text), verb, resource, path)
    except Exception as exc:  # the authorizer's failure is the decision's error, as upstream
        return False, "", str(exc)
    return allowed, reason, ""


def _implementations(make: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
    """Each member function's implementation, by name, building values with ``make``."""

    def decided(allowed: bool, reason: str, error: str) -> Any:
        return make[_DECISION](allowed="true" if allowed else "", reason=reason, error=error)

    def service_account(a: Any, namespace: str, name: str) -> Any:
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
        user = {"username": f"system:serviceaccount:{namespace}:{name}", "groups": groups}
        return make[AUTHORIZER](user=_user_json(user))

    def with_field(key: str) -> Callable[[Any, str], Any]:
        def narrowed(check: Any, value: str) -> Any:
            fields = {k: getattr(check, k) for k in _RESOURCE_FIELDS}
            fields[key] = value
            return make[_RESOURCE](**fields)

        return narrowed

    def decision_of(check: Any, verb: str) -> Any:
        if check.path:
            return decided(*_decide(check.user, verb, None, check.path))
        attrs = {k: getattr(check, k) for k in _RESOURCE_FIELDS[1:-1]}
        return decided(*_decide(check.user, verb, attrs, None))

    return {
        "path": lambda a, p: make[_RESOURCE](user=a.user, path=p),
        "group": lambda a, g: make[_GROUP](user=a.user, group=g),
        "serviceAccount": service_account,
        "resource": lambda g, r: make[_RESOURCE](user=g.user, group=g.group, resource=r),
        "subresource": with_field("subresource"),
        "namespace": with_field("namespace"),
        "name": with_field("name"),
        "check": decision_of,
        "allowed": lambda d: d.allowed == "true",
        "reason": lambda d: d.reason,
        "errored": lambda d: d.error != "",
        "error": lambda d: d.error,
    }


# member function -> (receiver, arguments, result): types by message name or CEL kind
_SIGNATURES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("path", AUTHORIZER, ("string",), _RESOURCE),
    ("group", AUTHORIZER, ("string",), _GROUP),
    ("serviceAccount", AUTHORIZER, ("string", "string"), AUTHORIZER),
    ("resource", _GROUP, ("string",), _RESOURCE),
    ("subresource", _RESOURCE, ("string",), _RESOURCE),
    ("namespace", _RESOURCE, ("string",), _RESOURCE),
    ("name", _RESOURCE, ("string",), _RESOURCE),
    ("check", _RESOURCE, ("string",), _DECISION),
    ("allowed", _DECISION, (), "bool"),
    ("reason", _DECISION, (), "string"),
    ("errored", _DECISION, (), "bool"),
    ("error", _DECISION, (), "string"),
)


def _declare(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    kinds = {"string": cel.Type.STRING, "bool": cel.Type.BOOL, **types}
    impls = _implementations(classes)
    return [
        cel.FunctionDecl(
            name,
            [
                cel.Overload(
                    f"{receiver}_{name}",
                    kinds[result],
                    [kinds[receiver], *(kinds[a] for a in args)],
                    is_member=True,
                    impl=impls[name],
                )
            ],
        )
        for name, receiver, args, result in _SIGNATURES
    ]


LIBRARY = Library(
    "authz",
    _declare,
    (
        (_RESOURCE, _RESOURCE_FIELDS),
        (AUTHORIZER, ("user", f"requestResource:{_RESOURCE}")),
        (_GROUP, ("user", "group")),
        (_DECISION, ("allowed", "reason", "error")),
    ),
)
