"""One ClusterRole per controller, bound to one ServiceAccount in kube-system.

With ``--use-service-account-credentials`` the controller manager acts for each controller
as ServiceAccount ``kube-system/<name>``, and that account holds ClusterRole
``system:controller:<name>`` through a ClusterRoleBinding of the same name. The roles are
upstream's (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, the set a v1.32 API server
creates with its default feature gates), whether or not kprov runs the controller, so a
client that looks for them finds what it would on a kubeadm cluster. kprov's own
controllers without an upstream counterpart get a role under the same prefix:
``local-path-provisioner`` (storage classes and the volumes it makes) and
``kubelet-serving-approver`` (approves kubelets' serving certificate requests).

The controller manager's own identity (system:kube-controller-manager) then only runs the
shared informers (list/watch), leader election, and the legacy token Secrets, and asks for
the controllers' tokens (serviceaccounts/token create).
"""

from __future__ import annotations

import functools
from importlib import resources as importlib_resources
from typing import Any

import yaml

__all__ = ["CONTROLLER_ROLE_PREFIX", "controller_cluster_role_bindings", "controller_cluster_roles"]

CONTROLLER_ROLE_PREFIX = "system:controller:"

_RBAC = "rbac.authorization.k8s.io"
Rule = dict[str, Any]
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _table() -> str:
    return importlib_resources.files(__package__).joinpath("controller_roles.yaml").read_text()


def _roles() -> dict[str, list[Rule]]:
    """Each controller's account name and what upstream grants it (controller_roles.yaml)."""
    roles: dict[str, list[Rule]] = yaml.load(_table(), Loader=_SafeLoader)
    return roles


def _meta(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def controller_cluster_roles() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": _meta(CONTROLLER_ROLE_PREFIX + account),
            "rules": rules,
        }
        for account, rules in _roles().items()
    ]


def controller_cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(CONTROLLER_ROLE_PREFIX + account),
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": CONTROLLER_ROLE_PREFIX + account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}],
        }
        for account in _roles()
    ]
