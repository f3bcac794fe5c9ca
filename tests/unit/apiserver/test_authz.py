"""Authorization rules per identity (with a watch cache stand-in holding pods)."""

from __future__ import annotations

from kprov.cluster.apiserver.authz.chain import authorize
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo


class _Pods:
    """Just the two cache reads the authorizer makes."""

    def __init__(self, pods: list[dict]) -> None:
        self.pods = {f"/registry/pods/{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in pods}

    def objects(self, prefix: str):  # type: ignore[no-untyped-def]
        return [p for k, p in self.pods.items() if k.startswith(prefix)]

    def get(self, key: str):  # type: ignore[no-untyped-def]
        return self.pods.get(key)


CACHE = _Pods(
    [
        {
            "metadata": {"name": "p1", "namespace": "ns"},
            "spec": {"nodeName": "n1", "volumes": [{"name": "v", "secret": {"secretName": "s1"}}]},
        }
    ]
)
NODE1 = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))


def _ri(
    verb: str, resource: str, name: str = "", ns: str = "", sub: str = "", group: str = ""
) -> RequestInfo:
    return RequestInfo(group, "v1", resource, ns, name, sub, verb)


def test_masters_do_anything():
    admin = UserInfo("kubernetes-admin", ("system:masters",))
    assert authorize(admin, _ri("delete", "secrets", "x", "ns"), CACHE)  # type: ignore[arg-type]


def test_node_rules():
    allowed = [
        _ri("get", "secrets", "s1", "ns"),
        _ri("patch", "nodes", "n1", sub="status"),
        _ri("list", "pods"),
        _ri("patch", "pods", "p1", "ns", "status"),
        _ri("update", "leases", "n1", "kube-node-lease", group="coordination.k8s.io"),
    ]
    denied = [
        _ri("get", "secrets", "s2", "ns"),
        _ri("list", "secrets", ns="ns"),
        _ri("patch", "nodes", "n2", sub="status"),
        _ri("update", "leases", "n2", "kube-node-lease", group="coordination.k8s.io"),
        _ri("create", "deployments", ns="ns", group="apps"),
    ]
    assert all(authorize(NODE1, ri, CACHE) for ri in allowed)  # type: ignore[arg-type]
    assert not any(authorize(NODE1, ri, CACHE) for ri in denied)  # type: ignore[arg-type]


def test_components_have_no_fixed_rules_and_strangers_nothing():
    """The scheduler and proxy get their rights from the bootstrap RBAC policy, not here."""
    scheduler = UserInfo("system:kube-scheduler")
    assert not authorize(scheduler, _ri("create", "pods", "p1", "ns", "binding"), CACHE)  # type: ignore[arg-type]
    assert not authorize(UserInfo("someone"), _ri("list", "pods"), CACHE)  # type: ignore[arg-type]
