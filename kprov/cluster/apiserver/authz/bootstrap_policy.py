"""The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings every cluster starts with.

The facts are upstream's (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): cluster-admin for
system:masters; system:discovery, system:basic-user and system:public-info-viewer for every
authenticated user (the last also for anonymous requests); the user-facing roles admin, edit
and view, aggregated from system:aggregate-to-{admin,edit,view} (so labelled roles extend
them); the component roles system:kube-scheduler, system:kube-controller-manager,
system:node-proxier, system:node (granted through the Node rules, bound to nobody),
system:auth-delegator, system:monitoring, system:service-account-issuer-discovery.

The controllers' own roles, system:controller:<name> bound to ServiceAccount
kube-system/<name>, are in :mod:`.controller_policy`; the controller manager acts with them
(--use-service-account-credentials), so its own role stays upstream's.

kprov's own identities get the same treatment, nothing hard-coded: the cluster DNS server (User
system:kprov:kube-dns) reads services, endpointslices, pods and namespaces everywhere and, by
a Role in kube-system only, creates the kube-dns Service and writes its EndpointSlices and
the servers' liveness Leases; the Ingress controller (User system:kprov:ingress-controller)
reads Ingresses, IngressClasses, Services, EndpointSlices and Secrets, writes Ingress status,
creates its IngressClass and, in kube-system, keeps its instances' presence Leases;
kprov-proxy's NetworkPolicy agent (User system:kube-proxy, also
bound to system:kprov:network-policy-agent) lists and watches pods, namespaces and
NetworkPolicies; its layer-2 speaker (Role system:kprov:l2-speaker, kube-system only) gets,
creates and updates the Leases that elect each LoadBalancer address's announcing node.

Every object carries ``kubernetes.io/bootstrapping: rbac-defaults`` and the annotation
``rbac.authorization.kubernetes.io/autoupdate: "true"`` (reconciliation may add to it; an
operator sets it to "false" to keep their edits).
"""

from __future__ import annotations

import functools
from importlib import resources as importlib_resources
from typing import Any

import yaml

from kprov.cluster.apiserver.authz.controller_policy import (
    controller_cluster_role_bindings,
    controller_cluster_roles,
)

__all__ = [
    "bootstrap_cluster_role_bindings",
    "bootstrap_cluster_roles",
    "bootstrap_namespaced_role_bindings",
    "bootstrap_namespaced_roles",
]

_RBAC = "rbac.authorization.k8s.io"
_READ = ["get", "list", "watch"]


def _rule(
    groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _cluster_roles_table() -> str:
    return importlib_resources.files(__package__).joinpath("bootstrap_cluster_roles.yaml").read_text()


def _role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": rules,
    }


def _cluster_role(entry: dict[str, Any]) -> dict[str, Any]:
    role = _role(entry["name"], entry["rules"], entry.get("labels"))
    if "aggregationRule" in entry:
        role["aggregationRule"] = entry["aggregationRule"]
    return role


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    """The cluster roles of bootstrap_cluster_roles.yaml (a fresh copy each call), then the
    controllers' roles."""
    entries: list[dict[str, Any]] = yaml.load(_cluster_roles_table(), Loader=_SafeLoader)
    return [*(_cluster_role(entry) for entry in entries), *controller_cluster_roles()]


def _subject(kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": _RBAC, "kind": kind, "name": name}


def _binding(name: str, role: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


_METRICS_SERVER = {"kind": "User", "apiGroup": _RBAC, "name": "system:kprov:metrics-server"}


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    authenticated = _subject("Group", "system:authenticated")
    return [
        _binding("cluster-admin", "cluster-admin", [_subject("Group", "system:masters")]),
        _binding("system:discovery", "system:discovery", [authenticated]),
        _binding("system:basic-user", "system:basic-user", [authenticated]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, _subject("Group", "system:unauthenticated")],
        ),
        _binding("system:monitoring", "system:monitoring", [_subject("Group", "system:monitoring")]),
        _binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            [_subject("Group", "system:serviceaccounts")],
        ),
        _binding("system:node-proxier", "system:node-proxier", [_subject("User", "system:kube-proxy")]),
        _binding(
            "system:kprov:network-policy-agent",
            "system:kprov:network-policy-agent",
            [_subject("User", "system:kube-proxy")],
        ),
        _binding(
            "system:kube-scheduler", "system:kube-scheduler", [_subject("User", "system:kube-scheduler")]
        ),
        _binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [_subject("User", "system:kube-controller-manager")],
        ),
        _binding(
            "system:kprov:kube-dns", "system:kprov:kube-dns", [_subject("User", "system:kprov:kube-dns")]
        ),
        _binding("system:kprov:metrics-server", "system:kprov:metrics-server", [_METRICS_SERVER]),
        _binding(
            "system:kprov:ingress-controller",
            "system:kprov:ingress-controller",
            [_subject("User", "system:kprov:ingress-controller")],
        ),
        _binding("metrics-server:system:auth-delegator", "system:auth-delegator", [_METRICS_SERVER]),
        # nodes renew their own client certificates (kubeadm's binding, under kprov's name)
        _binding(
            "kprov:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [_subject("Group", "system:nodes")],
        ),
        *controller_cluster_role_bindings(),
    ]


def bootstrap_namespaced_roles() -> list[dict[str, Any]]:
    role = _role(
        "system:kprov:kube-dns",
        [
            _rule([""], ["services"], ["create"]),
            _rule(["discovery.k8s.io"], ["endpointslices"], ["create", "delete", "patch", "update"]),
            # each server's liveness Lease, renewed by itself and watched by its peers
            _rule(["coordination.k8s.io"], ["leases"],
                  ["create", "delete", "get", "list", "update", "watch"]),
        ],
    )
    # extension API servers read the request-header settings the API server publishes
    reader = _role(
        "extension-apiserver-authentication-reader",
        [_rule([""], ["configmaps"], _READ, ["extension-apiserver-authentication"])],
    )
    metrics = _role(
        "system:kprov:metrics-server",
        [
            _rule([""], ["services"], ["create", "get"]),
            _rule(["discovery.k8s.io"], ["endpointslices"], ["create", "delete", "get", "update"]),
        ],
    )
    # kprov-ingress: each instance's presence Lease (its address), read by all of them
    ingress = _role(
        "system:kprov:ingress-controller",
        [_rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "list", "update", "watch"])],
    )
    # kprov-proxy's layer-2 speaker: one election Lease per LoadBalancer address (client-go's
    # algorithm reads, creates and updates; it never deletes, lists or watches)
    speaker = _role(
        "system:kprov:l2-speaker",
        [_rule(["coordination.k8s.io"], ["leases"], ["create", "get", "update"])],
    )
    for namespaced in (role, reader, metrics, ingress, speaker):
        namespaced["kind"] = "Role"
        namespaced["metadata"]["namespace"] = "kube-system"
    return [role, reader, metrics, ingress, speaker]


def bootstrap_namespaced_role_bindings() -> list[dict[str, Any]]:
    bindings = [
        _binding(
            "system:kprov:kube-dns", "system:kprov:kube-dns", [_subject("User", "system:kprov:kube-dns")]
        ),
        _binding("system:kprov:metrics-server", "system:kprov:metrics-server", [_METRICS_SERVER]),
        _binding("metrics-server-auth-reader", "extension-apiserver-authentication-reader",
                 [_METRICS_SERVER]),
        _binding("system:kprov:ingress-controller", "system:kprov:ingress-controller",
                 [_subject("User", "system:kprov:ingress-controller")]),
        _binding("system:kprov:l2-speaker", "system:kprov:l2-speaker",
                 [_subject("User", "system:kube-proxy")]),
    ]
    for binding in bindings:
        binding["kind"] = "RoleBinding"
        binding["metadata"]["namespace"] = "kube-system"
        binding["roleRef"]["kind"] = "Role"
    return bindings
