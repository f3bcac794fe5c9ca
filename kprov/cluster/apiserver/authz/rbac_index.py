"""The RBAC authorizer's index: subject -> the rules bound to it, kept from the watch cache.

Deciding a request must not scan every binding (a cluster may hold thousands), so the index
maps each subject - ``("User", name)`` (service accounts as their user names
``system:serviceaccount:<ns>:<name>``) or ``("Group", name)`` - to the compiled rules that
ClusterRoleBindings grant it everywhere, and ``(namespace, subject)`` to what RoleBindings
grant it in one namespace. A request costs one dict lookup per group of the user plus the rule
checks of what is found.

The index subscribes to the four RBAC resources in the watch cache; any event there marks it
stale and the next decision rebuilds it from the cache's current state (a role change can
touch every binding naming it, so a rebuild is simpler, and cheap against how
rarely RBAC objects change; docs/decisions/0009). A subscription ended by the cache (etcd watch lost)
is renewed, with a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from kprov.cluster.apiserver.authz.rbac_rules import Rule, compile_rules
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.storage import scope_prefix

__all__ = ["RbacIndex", "subject_key"]

_log = logging.getLogger(__name__)
RBAC_GROUP = "rbac.authorization.k8s.io"
_RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
_Key = tuple[str, str]


class _Cache(Protocol):
    revision: int

    def objects(self, prefix: str) -> Iterable[dict[str, Any]]: ...

    def subscribe(self, prefix: str, after_revision: int) -> Any: ...


def subject_key(subject: dict[str, Any], binding_namespace: str) -> _Key | None:
    """The index key of a binding's subject; None for one that names nobody."""
    kind, name = subject.get("kind"), subject.get("name")
    if not name:
        return None
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return ("User", f"system:serviceaccount:{namespace}:{name}") if namespace else None
    if kind in ("User", "Group"):
        return (str(kind), str(name))
    return None


class RbacIndex:
    def __init__(self, cache: _Cache) -> None:
        self._cache = cache
        self._subs: list[Any] = []
        self._cluster: dict[_Key, tuple[Rule, ...]] = {}
        self._namespaced: dict[tuple[str, _Key], tuple[Rule, ...]] = {}
        self._roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._cluster_roles: dict[str, tuple[Rule, ...]] = {}

    # -- freshness --------------------------------------------------------------------------
    def _refresh(self) -> None:
        stale = not self._subs
        for sub in self._subs:
            if sub.drain() or sub.closed:
                stale = True
        if stale:
            self._resubscribe()
            self._rebuild()

    def _resubscribe(self) -> None:
        if self._subs and not any(sub.closed for sub in self._subs):
            return
        for sub in self._subs:
            sub.close()
        revision = self._cache.revision
        self._subs = [self._cache.subscribe(scope_prefix(RBAC_GROUP, r), revision) for r in _RESOURCES]

    def _rebuild(self) -> None:
        cache = self._cache
        roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        for role in cache.objects(scope_prefix(RBAC_GROUP, "roles")):
            meta = role.get("metadata") or {}
            roles[(meta.get("namespace", ""), meta.get("name", ""))] = compile_rules(role.get("rules") or ())
        cluster_roles = {
            (r.get("metadata") or {}).get("name", ""): compile_rules(r.get("rules") or ())
            for r in cache.objects(scope_prefix(RBAC_GROUP, "clusterroles"))
        }
        cluster: dict[_Key, list[Rule]] = {}
        for binding in cache.objects(scope_prefix(RBAC_GROUP, "clusterrolebindings")):
            ref = binding.get("roleRef") or {}
            rules = cluster_roles.get(ref.get("name", "")) if ref.get("kind") == "ClusterRole" else None
            for subject in binding.get("subjects") or ():
                key = subject_key(subject, "")
                if rules and key is not None:
                    cluster.setdefault(key, []).extend(rules)
        namespaced: dict[tuple[str, _Key], list[Rule]] = {}
        for binding in cache.objects(scope_prefix(RBAC_GROUP, "rolebindings")):
            namespace = (binding.get("metadata") or {}).get("namespace", "")
            ref = binding.get("roleRef") or {}
            if ref.get("kind") == "Role":
                rules = roles.get((namespace, ref.get("name", "")))
            else:
                rules = cluster_roles.get(ref.get("name", ""))
            for subject in binding.get("subjects") or ():
                key = subject_key(subject, namespace)
                if rules and key is not None:
                    namespaced.setdefault((namespace, key), []).extend(rules)
        self._roles, self._cluster_roles = roles, cluster_roles
        self._cluster = {k: tuple(v) for k, v in cluster.items()}
        self._namespaced = {k: tuple(v) for k, v in namespaced.items()}

    # -- questions --------------------------------------------------------------------------
    def rules_for(self, user: UserInfo, namespace: str) -> list[Rule]:
        """Every rule that applies to ``user`` in ``namespace`` ("" : cluster-wide only)."""
        self._refresh()
        keys = [("User", user.name), *(("Group", g) for g in user.groups)]
        rules: list[Rule] = []
        for key in keys:
            rules.extend(self._cluster.get(key, ()))
            if namespace:
                rules.extend(self._namespaced.get((namespace, key), ()))
        return rules

    def allows(self, user: UserInfo, ri: RequestInfo) -> bool:
        self._refresh()
        cluster, namespaced, namespace = self._cluster, self._namespaced, ri.namespace
        for key in (("User", user.name), *(("Group", g) for g in user.groups)):
            for rule in cluster.get(key, ()):
                if rule.allows(ri):
                    return True
            if namespace:
                for rule in namespaced.get((namespace, key), ()):
                    if rule.allows(ri):
                        return True
        return False

    def allows_url(self, user: UserInfo, verb: str, path: str) -> bool:
        self._refresh()
        for key in (("User", user.name), *(("Group", g) for g in user.groups)):
            if any(rule.allows_url(verb, path) for rule in self._cluster.get(key, ())):
                return True
        return False

    def role_rules(self, kind: str, namespace: str, name: str) -> tuple[Rule, ...] | None:
        """The rules of a binding's roleRef; None when that role does not exist."""
        self._refresh()
        if kind == "Role":
            return self._roles.get((namespace, name))
        return self._cluster_roles.get(name)
