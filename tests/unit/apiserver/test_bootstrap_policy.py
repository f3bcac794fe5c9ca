"""The bootstrap RBAC policy decides what every component and user may do (no fixed rules)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.authz.bootstrap_policy import (
    bootstrap_cluster_role_bindings,
    bootstrap_cluster_roles,
    bootstrap_namespaced_role_bindings,
    bootstrap_namespaced_roles,
)
from kprov.cluster.apiserver.authz.rbac_index import RbacIndex
from kprov.cluster.apiserver.authz.rbac_rules import compile_rules, missing
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.controllers.identity.clusterrole_aggregation import aggregated_rules

PREFIX = "/registry/rbac.authorization.k8s.io"


class _Sub:
    closed = False

    def drain(self) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed = True


class _Cache:
    revision = 1

    def __init__(self) -> None:
        roles = bootstrap_cluster_roles()
        self.data: dict[str, dict[str, Any]] = {}
        for role in roles:
            rules = aggregated_rules(role, roles)
            self.data[f"{PREFIX}/clusterroles/{role['metadata']['name']}"] = (
                {**role, "rules": rules} if rules is not None else role
            )
        for binding in bootstrap_cluster_role_bindings():
            self.data[f"{PREFIX}/clusterrolebindings/{binding['metadata']['name']}"] = binding
        for role in bootstrap_namespaced_roles():
            self.data[f"{PREFIX}/roles/kube-system/{role['metadata']['name']}"] = role
        for binding in bootstrap_namespaced_role_bindings():
            self.data[f"{PREFIX}/rolebindings/kube-system/{binding['metadata']['name']}"] = binding

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        return [o for k, o in self.data.items() if k.startswith(prefix)]

    def subscribe(self, prefix: str, after_revision: int) -> _Sub:
        return _Sub()


@pytest.fixture(scope="module")
def index() -> RbacIndex:
    return RbacIndex(_Cache())


def _ri(
    verb: str, resource: str, ns: str = "", name: str = "", sub: str = "", group: str = ""
) -> RequestInfo:
    return RequestInfo(group, "v1", resource, ns, name, sub, verb)


AUTHENTICATED = ("system:authenticated",)


def test_components(index: RbacIndex) -> None:
    scheduler = UserInfo("system:kube-scheduler", AUTHENTICATED)
    assert index.allows(scheduler, _ri("create", "pods", "ns", "p", "binding"))
    assert index.allows(
        scheduler, _ri("update", "leases", "kube-system", "kube-scheduler", group="coordination.k8s.io")
    )
    assert not index.allows(
        scheduler, _ri("update", "leases", "kube-system", "other", group="coordination.k8s.io")
    )
    assert not index.allows(scheduler, _ri("get", "secrets", "ns", "s"))
    proxy = UserInfo("system:kube-proxy", AUTHENTICATED)
    assert index.allows(proxy, _ri("watch", "endpointslices", group="discovery.k8s.io"))
    assert not index.allows(proxy, _ri("update", "services", "ns", "x"))
    dns = UserInfo("system:kprov:kube-dns", AUTHENTICATED)
    assert index.allows(dns, _ri("list", "pods")) and index.allows(dns, _ri("watch", "namespaces"))
    assert not index.allows(dns, _ri("get", "secrets", "ns", "s"))
    # the manager itself runs informers and asks for its controllers' tokens; it writes no workload
    manager = UserInfo("system:kube-controller-manager", AUTHENTICATED)
    assert index.allows(manager, _ri("watch", "deployments", group="apps"))
    assert index.allows(manager, _ri("create", "serviceaccounts", "kube-system", "token", "token"))
    assert not index.allows(manager, _ri("create", "pods", "ns"))
    assert not index.allows(
        manager, _ri("update", "clusterroles", name="view", group="rbac.authorization.k8s.io")
    )
    assert not index.allows(manager, _ri("impersonate", "users", name="x"))


def _controller(account: str) -> UserInfo:
    return UserInfo(
        f"system:serviceaccount:kube-system:{account}",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system", *AUTHENTICATED),
    )


def test_each_controller_acts_with_its_own_role(index: RbacIndex) -> None:
    replicaset = _controller("replicaset-controller")
    assert index.allows(replicaset, _ri("create", "pods", "ns"))
    assert index.allows(replicaset, _ri("update", "replicasets", "ns", "r", "status", group="apps"))
    assert not index.allows(replicaset, _ri("create", "deployments", "ns", group="apps"))
    assert not index.allows(replicaset, _ri("get", "secrets", "ns", "s"))
    aggregation = _controller("clusterrole-aggregation-controller")
    assert index.allows(
        aggregation, _ri("escalate", "clusterroles", name="view", group="rbac.authorization.k8s.io")
    )
    assert not index.allows(_controller("deployment-controller"), _ri(
        "escalate", "clusterroles", name="view", group="rbac.authorization.k8s.io"))
    gc = _controller("generic-garbage-collector")
    assert index.allows(gc, _ri("delete", "widgets", "ns", "w", group="example.com"))
    assert not index.allows(gc, _ri("create", "widgets", "ns", group="example.com"))
    # the same account in another namespace is someone else
    impostor = UserInfo("system:serviceaccount:default:replicaset-controller", AUTHENTICATED)
    assert not index.allows(impostor, _ri("create", "pods", "ns"))


def test_users(index: RbacIndex) -> None:
    nobody = UserInfo("nobody", AUTHENTICATED)
    assert index.allows(nobody, _ri("create", "selfsubjectaccessreviews", group="authorization.k8s.io"))
    assert index.allows(nobody, _ri("create", "selfsubjectreviews", group="authentication.k8s.io"))
    assert index.allows_url(nobody, "get", "/apis/apps/v1")
    assert not index.allows(nobody, _ri("delete", "nodes", name="n"))
    assert not index.allows(nobody, _ri("list", "pods", "ns"))
    admin = UserInfo("root", ("system:masters", *AUTHENTICATED))
    assert index.allows(admin, _ri("delete", "nodes", name="n"))


def test_aggregation_makes_view_edit_admin_nested(index: RbacIndex) -> None:
    view = index.role_rules("ClusterRole", "", "view")
    edit = index.role_rules("ClusterRole", "", "edit")
    admin = index.role_rules("ClusterRole", "", "admin")
    assert view and edit and admin
    assert missing(edit, view) == [] and missing(admin, edit) == []
    assert missing(view, compile_rules([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]))
    cluster_admin = index.role_rules("ClusterRole", "", "cluster-admin")
    assert cluster_admin is not None and missing(edit, cluster_admin)  # edit cannot bind cluster-admin


def test_kube_dns_reads_the_cluster_and_writes_only_its_endpoints_and_leases(index: RbacIndex) -> None:
    dns = UserInfo("system:kprov:kube-dns", AUTHENTICATED)
    allowed = [
        _ri("watch", "services"),
        _ri("get", "services", "kube-system", "kube-dns"),
        _ri("get", "endpointslices", "kube-system", "kube-dns-h1", group="discovery.k8s.io"),
        _ri("list", "pods"),
        _ri("watch", "endpointslices", group="discovery.k8s.io"),
        _ri("create", "services", "kube-system"),
        _ri("update", "endpointslices", "kube-system", "kube-dns-h1", group="discovery.k8s.io"),
        _ri("update", "leases", "kube-system", "kube-dns-h1", group="coordination.k8s.io"),
        _ri("watch", "leases", "kube-system", group="coordination.k8s.io"),
    ]
    denied = [
        _ri("update", "leases", "kube-node-lease", "h1", group="coordination.k8s.io"),
        _ri("watch", "leases", group="coordination.k8s.io"),
        _ri("update", "services", "kube-system", "kube-dns"),
        _ri("create", "services", "default"),
        _ri("update", "endpointslices", "default", "x", group="discovery.k8s.io"),
        _ri("get", "secrets", "kube-system", "s"),
        _ri("update", "pods", "ns", "p1", "status"),
    ]
    assert all(index.allows(dns, ri) for ri in allowed)
    assert not any(index.allows(dns, ri) for ri in denied)
