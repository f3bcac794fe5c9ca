"""The ``authorizer`` variable of policies and webhook matchConditions, answered by the
API server's real authorizer (fixed rules, then RBAC).

Design: Kubernetes' authorizer library (:mod:`kprov.cluster.api.cel.lib_authz`) builds
checks as values and asks a :data:`~kprov.cluster.api.cel.lib_authz.Decider` for each
``check(verb)``; :func:`decider_of` is that function over the server's
:class:`~kprov.cluster.apiserver.authz.chain.Authorizer`: a resource check is a
:class:`RequestInfo` (version ``*``: RBAC matches no version), a path check RBAC's
nonResourceURLs (system:masters holding every path). RBAC here answers allowed or not
with no reason text, so ``reason()`` is empty where upstream quotes the binding.
:func:`authorizer_variable` is the variable's value for a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.cel.environment import environment
from kprov.cluster.api.cel.lib_authz import Decider, authorizer_value
from kprov.cluster.apiserver.authz.chain import authorizer_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

__all__ = ["authorizer_variable", "decider_of"]


def _user(user: Mapping[str, Any]) -> UserInfo:
    extra = tuple((str(k), tuple(str(x) for x in v)) for k, v in sorted((user.get("extra") or {}).items()))
    return UserInfo(
        str(user.get("username", "")),
        tuple(str(g) for g in user.get("groups") or ()),
        uid=str(user.get("uid", "")),
        extra=extra,
    )


def decider_of(ctx: ApiContext) -> Decider:
    """The library's decider over this server's authorizer."""
    authorizer = authorizer_of(ctx)

    def decide(
        user: Mapping[str, Any], verb: str, resource: Mapping[str, str] | None, path: str | None
    ) -> tuple[bool, str]:
        who = _user(user)
        if resource is None:
            allowed = authorizer.is_superuser(who) or authorizer.rbac.allows_url(who, verb, path or "")
            return allowed, ""
        ri = RequestInfo(
            group=resource.get("group", ""),
            version="*",
            resource=resource.get("resource", ""),
            namespace=resource.get("namespace", ""),
            name=resource.get("name", ""),
            subresource=resource.get("subresource", ""),
            verb=verb,
        )
        return authorizer.allows(who, ri), ""

    return decide


def authorizer_variable(user: Mapping[str, Any], request: Mapping[str, str]) -> Any:
    """The ``authorizer`` value for a request by ``user`` (``userInfo``'s shape) on the
    resource ``request`` (group, resource, subresource, namespace, name)."""
    return authorizer_value(environment().messages, user, request)
