"""RBAC rule matching, coverage (escalation) and the subject index kept from cache events."""

from __future__ import annotations

from typing import Any

from kprov.cluster.apiserver.authz.rbac_index import RbacIndex
from kprov.cluster.apiserver.authz.rbac_rules import Rule, compile_rules, missing
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

RBAC = "/registry/rbac.authorization.k8s.io"


def _ri(
    verb: str, resource: str, ns: str = "", name: str = "", sub: str = "", group: str = ""
) -> RequestInfo:
    return RequestInfo(group, "v1", resource, ns, name, sub, verb)


def test_rule_matching():
    rule = Rule.of({"apiGroups": [""], "resources": ["pods", "*/log"], "verbs": ["get", "list"]})
    assert rule.allows(_ri("get", "pods", "ns", "p"))
    assert rule.allows(_ri("get", "pods", "ns", "p", "log"))
    assert not rule.allows(_ri("get", "pods", "ns", "p", "status"))
    assert not rule.allows(_ri("delete", "pods", "ns", "p"))
    assert not rule.allows(_ri("get", "deployments", "ns", "d", group="apps"))
    named = Rule.of({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "resourceNames": ["a"]})
    assert named.allows(_ri("update", "configmaps", "ns", "a"))
    assert not named.allows(_ri("update", "configmaps", "ns", "b"))
    assert not named.allows(_ri("list", "configmaps", "ns"))
    urls = Rule.of({"nonResourceURLs": ["/healthz", "/api/*"], "verbs": ["get"]})
    assert urls.allows_url("get", "/healthz") and urls.allows_url("get", "/api/v1")
    assert not urls.allows_url("get", "/metrics")


def test_missing_rules_are_compacted_like_upstream():
    owned = compile_rules([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    wanted = compile_rules(
        [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ]
    )
    assert missing(owned, wanted) == [
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    ]
    star = compile_rules([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    assert missing(star, wanted[:2]) == []
    sub = compile_rules([{"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]}])
    assert (
        missing(sub, compile_rules([{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}])) == []
    )


class _Sub:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closed = False

    def drain(self) -> list[Any]:
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        self.closed = True


class _Cache:
    """The watch cache surface the index reads: objects by prefix and subscriptions."""

    def __init__(self) -> None:
        self.revision = 1
        self.data: dict[str, dict[str, Any]] = {}
        self.subs: list[_Sub] = []

    def put(self, key: str, obj: dict[str, Any]) -> None:
        self.data[key] = obj
        for sub in self.subs:
            sub.events.append(key)

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        return [o for k, o in self.data.items() if k.startswith(prefix)]

    def subscribe(self, prefix: str, after_revision: int) -> _Sub:
        sub = _Sub()
        self.subs.append(sub)
        return sub


def test_index_follows_bindings_and_roles():
    cache = _Cache()
    index = RbacIndex(cache)
    alice = UserInfo("alice", ("devs", "system:authenticated"))
    robot = UserInfo("system:serviceaccount:ns1:robot", ("system:serviceaccounts",))
    assert not index.allows(alice, _ri("list", "pods", "ns1"))
    cache.put(
        f"{RBAC}/clusterroles/view",
        {
            "metadata": {"name": "view"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        },
    )
    cache.put(
        f"{RBAC}/rolebindings/ns1/b",
        {
            "metadata": {"name": "b", "namespace": "ns1"},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "name": "robot"}],
        },
    )
    assert index.allows(alice, _ri("list", "pods", "ns1"))
    assert index.allows(robot, _ri("list", "pods", "ns1"))
    assert not index.allows(alice, _ri("list", "pods", "ns2"))
    assert not index.allows(alice, _ri("list", "pods"))  # a RoleBinding never grants cluster-wide
    cache.put(
        f"{RBAC}/clusterrolebindings/all",
        {
            "metadata": {"name": "all"},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}],
        },
    )
    assert index.allows(alice, _ri("list", "pods"))
    cache.put(f"{RBAC}/clusterroles/view", {"metadata": {"name": "view"}, "rules": []})
    assert not index.allows(alice, _ri("list", "pods", "ns1"))
    assert index.role_rules("ClusterRole", "", "view") == ()
    assert index.role_rules("Role", "ns1", "nope") is None
