"""Reconciling the bootstrap RBAC policy at API server start (every server, idempotently).

Each bootstrap ClusterRole / ClusterRoleBinding (:mod:`.bootstrap_policy`) is created when
missing. One that exists and still carries ``rbac.authorization.kubernetes.io/autoupdate:
"true"`` gets what it lacks - rules (or the aggregationRule) of a role, subjects of a binding -
added, never removed, as upstream's reconciliation does; with the annotation "false" it is
left as the operator made it. Aggregated roles are created holding the rules of the bootstrap
roles they select, so a server without a controller manager already answers for ``view``;
the aggregation controller keeps them current afterwards.

kprov's own bootstrap objects that a later release no longer creates (``_RETIRED``: the
controller manager's old all-controllers role, replaced by one role per controller) are
deleted while they still carry the bootstrapping label and autoupdate "true", so an upgraded
cluster keeps no grant the new policy does not make.
"""

from __future__ import annotations

import logging
from typing import Any

from kprov.cluster.apiserver.authz.bootstrap_policy import (
    bootstrap_cluster_role_bindings,
    bootstrap_cluster_roles,
    bootstrap_namespaced_role_bindings,
    bootstrap_namespaced_roles,
)
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.deletion import delete_object
from kprov.cluster.apiserver.handlers.writes import create_object, guaranteed_update
from kprov.cluster.apiserver.request.status import ApiError
from kprov.cluster.controllers.identity.clusterrole_aggregation import aggregated_rules

__all__ = ["reconcile_policy"]

_log = logging.getLogger(__name__)
_RBAC = "rbac.authorization.k8s.io"
_AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
_RETIRED = (("clusterrolebindings", "system:kprov:controller-manager"),
            ("clusterroles", "system:kprov:controller-manager"))


def _role_update(want: dict[str, Any]) -> Any:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        if ((obj.get("metadata") or {}).get("annotations") or {}).get(_AUTOUPDATE) != "true":
            return obj
        if want.get("aggregationRule") is not None:
            if obj.get("aggregationRule") != want["aggregationRule"]:
                obj["aggregationRule"] = want["aggregationRule"]
            return obj
        rules = list(obj.get("rules") or [])
        for rule in want.get("rules") or ():
            if rule not in rules:
                rules.append(rule)
        obj["rules"] = rules
        return obj

    return mutate


def _binding_update(want: dict[str, Any]) -> Any:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        if ((obj.get("metadata") or {}).get("annotations") or {}).get(_AUTOUPDATE) != "true":
            return obj
        subjects = list(obj.get("subjects") or [])
        for subject in want.get("subjects") or ():
            if subject not in subjects:
                subjects.append(subject)
        obj["subjects"] = subjects
        return obj

    return mutate


async def _ensure(ctx: ApiContext, resource: str, obj: dict[str, Any], mutate: Any) -> None:
    info = ctx.registry.get(_RBAC, "v1", resource)
    assert info is not None
    namespace = obj["metadata"].get("namespace", "")
    try:
        await create_object(ctx, None, info, namespace, obj)
        return
    except ApiError as exc:
        if exc.code != 409:
            raise
    await guaranteed_update(ctx, info, namespace, obj["metadata"]["name"], mutate)


async def _retire(ctx: ApiContext, resource: str, name: str) -> None:
    info = ctx.registry.get(_RBAC, "v1", resource)
    assert info is not None
    current = await ctx.store.get(ctx.key(info, "", name))
    if current is None:
        return
    meta = current.obj.get("metadata") or {}
    ours = (meta.get("labels") or {}).get("kubernetes.io/bootstrapping") == "rbac-defaults"
    if not ours or (meta.get("annotations") or {}).get(_AUTOUPDATE) != "true":
        return
    try:
        await delete_object(ctx, info, "", name, {})
    except ApiError as exc:
        if exc.code != 404:
            raise
    _log.info("retired bootstrap %s %s", resource, name)


async def reconcile_policy(ctx: ApiContext) -> None:
    roles = bootstrap_cluster_roles()
    for role in roles:
        rules = aggregated_rules(role, roles)
        if rules is not None:
            role = {**role, "rules": rules}
        await _ensure(ctx, "clusterroles", role, _role_update(role))
    for binding in bootstrap_cluster_role_bindings():
        await _ensure(ctx, "clusterrolebindings", binding, _binding_update(binding))
    for role in bootstrap_namespaced_roles():
        await _ensure(ctx, "roles", role, _role_update(role))
    for binding in bootstrap_namespaced_role_bindings():
        await _ensure(ctx, "rolebindings", binding, _binding_update(binding))
    for resource, name in _RETIRED:
        await _retire(ctx, resource, name)
    _log.info(
        "bootstrap RBAC policy reconciled (%d roles, %d bindings)",
        len(roles),
        len(bootstrap_cluster_role_bindings()),
    )
