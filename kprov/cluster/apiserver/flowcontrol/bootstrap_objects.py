"""The bootstrap FlowSchemas and PriorityLevelConfigurations of kube-apiserver v1.32.

Mandatory objects (``exempt``, ``catch-all``) are kept exactly as defined here; suggested
ones are created when missing and kept current while they carry
``apf.kubernetes.io/autoupdate-spec: "true"``. Every builder returns a fresh dict so callers
may mutate what they get.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AUTOUPDATE_ANNOTATION",
    "GROUP_VERSION",
    "mandatory_flow_schemas",
    "mandatory_priority_levels",
    "suggested_flow_schemas",
    "suggested_priority_levels",
]

GROUP_VERSION = "flowcontrol.apiserver.k8s.io/v1"
AUTOUPDATE_ANNOTATION = "apf.kubernetes.io/autoupdate-spec"
_EVERY = ["*"]
_LEASES = ("coordination.k8s.io", "leases")


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "annotations": {AUTOUPDATE_ANNOTATION: "true"}}


def _limited(shares: int, lendable: int, queues: int = 0, hand: int = 0, limit: int = 0) -> dict[str, Any]:
    response: dict[str, Any] = {"type": "Reject"}
    if queues:
        response = {
            "type": "Queue",
            "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": limit},
        }
    return {
        "type": "Limited",
        "limited": {
            "nominalConcurrencyShares": shares,
            "lendablePercent": lendable,
            "limitResponse": response,
        },
    }


def _level(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "PriorityLevelConfiguration",
        "metadata": _meta(name),
        "spec": spec,
    }


def _groups(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_sas(*names: str) -> list[dict[str, Any]]:
    return [
        {"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}} for n in names
    ]


def _resources(verbs: list[str], group: str, resources: list[str], cluster_scope: bool) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "verbs": verbs,
        "apiGroups": [group],
        "resources": resources,
        "namespaces": _EVERY,
    }
    if cluster_scope:
        rule["clusterScope"] = True
    return rule


def _everything(subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "subjects": subjects,
        "resourceRules": [_resources(_EVERY, "*", _EVERY, True)],
        "nonResourceRules": [{"verbs": _EVERY, "nonResourceURLs": _EVERY}],
    }


def _schema(name: str, level: str, precedence: int, method: str, *rules: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": precedence}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = list(rules)
    return {"apiVersion": GROUP_VERSION, "kind": "FlowSchema", "metadata": _meta(name), "spec": spec}


def mandatory_priority_levels() -> list[dict[str, Any]]:
    return [
        _level("catch-all", _limited(5, 0)),
        _level("exempt", {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
    ]


def mandatory_flow_schemas() -> list[dict[str, Any]]:
    return [
        _schema("exempt", "exempt", 1, "", _everything(_groups("system:masters"))),
        _schema(
            "catch-all",
            "catch-all",
            10000,
            "ByUser",
            _everything(_groups("system:unauthenticated", "system:authenticated")),
        ),
    ]


def suggested_priority_levels() -> list[dict[str, Any]]:
    return [
        _level("system", _limited(30, 33, 64, 6, 50)),
        _level("node-high", _limited(40, 25, 64, 6, 50)),
        _level("leader-election", _limited(10, 0, 16, 4, 50)),
        _level("workload-high", _limited(40, 50, 128, 6, 50)),
        _level("workload-low", _limited(100, 90, 128, 6, 50)),
        _level("global-default", _limited(20, 50, 128, 6, 50)),
    ]


def suggested_flow_schemas() -> list[dict[str, Any]]:
    kcm, sched = "system:kube-controller-manager", "system:kube-scheduler"
    get_create_update = ["get", "create", "update"]
    everyone = _groups("system:unauthenticated", "system:authenticated")
    return [
        _schema("system-nodes", "system", 500, "ByUser", _everything(_groups("system:nodes"))),
        _schema(
            "system-node-high",
            "node-high",
            400,
            "ByUser",
            {
                "subjects": _groups("system:nodes"),
                "resourceRules": [
                    _resources(_EVERY, "", ["nodes", "nodes/status"], True),
                    _resources(_EVERY, _LEASES[0], [_LEASES[1]], False),
                ],
            },
        ),
        _schema(
            "probes",
            "exempt",
            2,
            "",
            {
                "subjects": everyone,
                "nonResourceRules": [
                    {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}
                ],
            },
        ),
        _schema(
            "system-leader-election",
            "leader-election",
            100,
            "ByUser",
            {
                "subjects": _users(kcm, sched) + _kube_system_sas("*"),
                "resourceRules": [_resources(get_create_update, _LEASES[0], [_LEASES[1]], False)],
            },
        ),
        _schema(
            "workload-leader-election",
            "leader-election",
            200,
            "ByUser",
            {
                "subjects": _kube_system_sas("*"),
                "resourceRules": [
                    _resources(get_create_update, "", ["endpoints", "configmaps"], False),
                    _resources(get_create_update, _LEASES[0], [_LEASES[1]], False),
                ],
            },
        ),
        _schema(
            "endpoint-controller",
            "workload-high",
            150,
            "ByUser",
            {
                "subjects": _users(kcm)
                + _kube_system_sas("endpoint-controller", "endpointslicemirroring-controller"),
                "resourceRules": [_resources(get_create_update, "", ["endpoints"], False)],
            },
        ),
        _schema("kube-controller-manager", "workload-high", 800, "ByNamespace", _everything(_users(kcm))),
        _schema("kube-scheduler", "workload-high", 800, "ByNamespace", _everything(_users(sched))),
        _schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            "ByNamespace",
            _everything(_kube_system_sas("*")),
        ),
        _schema(
            "service-accounts", "workload-low", 9000, "ByUser", _everything(_groups("system:serviceaccounts"))
        ),
        _schema("global-default", "global-default", 9900, "ByUser", _everything(everyone)),
    ]
