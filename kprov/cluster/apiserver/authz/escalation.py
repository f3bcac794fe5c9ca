"""RBAC escalation prevention: nobody grants permissions they do not hold.

As upstream's RBAC storage does on create and update:

- a Role or ClusterRole is written only by a user who holds every permission in it (at the
  role's namespace, or cluster-wide for a ClusterRole), or who may ``escalate`` that role;
  an ``aggregationRule`` needs ``escalate`` outright (its rules are whatever the selected
  roles hold);
- a RoleBinding or ClusterRoleBinding is written only by a user who holds every permission
  of the role it refers to, or who may ``bind`` that role (``roles`` / ``clusterroles``
  named as in roleRef). A roleRef to a missing role is a 404 unless ``bind`` is held.

system:masters may do anything. A refusal is upstream's 403: ``rolebindings.rbac.authorization.k8s.io
"x" is forbidden: user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC
permissions not currently held:`` followed by the missing rules, one per line.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.authz.chain import Authorizer
from kprov.cluster.apiserver.authz.rbac_rules import compile_rules, missing
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import StatusError, refused

__all__ = ["check_escalation"]

RBAC_GROUP = "rbac.authorization.k8s.io"


def _forbidden(info: ResourceInfo, name: str, why: str) -> StatusError:
    return refused(info.group, info.resource, name, why)


def _go_strings(values: tuple[str, ...]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _not_held(user: UserInfo, gaps: list[str]) -> str:
    return (
        f'user "{user.name}" (groups={_go_strings(user.groups)}) is attempting to grant RBAC permissions '
        "not currently held:\n" + "\n".join(gaps)
    )


def check_escalation(
    authorizer: Authorizer, user: UserInfo | None, info: ResourceInfo, obj: dict[str, Any]
) -> None:
    """Raise 403 (or 404) when ``user`` may not write this RBAC object."""
    if info.group != RBAC_GROUP or user is None or authorizer.is_superuser(user):
        return
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    namespace = str(meta.get("namespace", "")) if info.namespaced else ""
    if info.resource in ("roles", "clusterroles"):
        escalate = RequestInfo(RBAC_GROUP, "v1", info.resource, namespace, name, "", "escalate")
        if authorizer.allows(user, escalate):
            return
        if info.resource == "clusterroles" and obj.get("aggregationRule") is not None:
            raise _forbidden(info, name, "must have cluster-admin privileges to use the aggregationRule")
        wanted = compile_rules(obj.get("rules") or ())
    else:
        ref = obj.get("roleRef") or {}
        kind, ref_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        target = "roles" if kind == "Role" else "clusterroles"
        bind = RequestInfo(RBAC_GROUP, "v1", target, namespace, ref_name, "", "bind")
        if authorizer.allows(user, bind):
            return
        found = authorizer.rbac.role_rules(kind, namespace, ref_name)
        if found is None:
            raise StatusError(
                f'{target}.{RBAC_GROUP} "{ref_name}" not found',
                404,
                "NotFound",
                {"name": ref_name, "group": RBAC_GROUP, "kind": target},
            )
        wanted = found
    gaps = missing(authorizer.rbac.rules_for(user, namespace), wanted)
    if gaps:
        raise _forbidden(info, name, _not_held(user, gaps))
