"""ClusterRole aggregation: selected roles' rules, name order, no repeats, never itself."""

from __future__ import annotations

from kprov.cluster.controllers.identity.clusterrole_aggregation import aggregated_rules

GET_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
LIST_JOBS = {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]}


def _role(name: str, labels: dict[str, str] | None = None, rules=(), aggregate: bool = False) -> dict:  # type: ignore[no-untyped-def]
    role: dict = {"metadata": {"name": name, "labels": labels or {}}, "rules": list(rules)}
    if aggregate:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
        }
    return role


def test_aggregation_collects_selected_rules_in_name_order():
    label = {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
    view = _role("view", label, aggregate=True)
    roles = [
        view,
        _role("z-jobs", label, [LIST_JOBS, GET_PODS]),
        _role("a-pods", label, [GET_PODS]),
        _role("other", {}, [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    ]
    assert aggregated_rules(view, roles) == [GET_PODS, LIST_JOBS]
    assert aggregated_rules(roles[1], roles) is None
