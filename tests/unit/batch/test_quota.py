"""Quota arithmetic (what a pod or service uses, what exceeds, how it is written) and the
LimitRange defaults derivation."""

from decimal import Decimal

from kprov.cluster.api.kinds.quota import exceeded, fmt, matches_scopes, missing_requests, pretty, usage
from kprov.cluster.apiserver.admission.limitranger import item_defaults


def pod(phase: str = "Running", **resources) -> dict:
    return {
        "spec": {
            "containers": [{"name": "a", "resources": resources}, {"name": "b", "resources": resources}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3"}}}],
        },
        "status": {"phase": phase},
    }


def test_pod_usage_sums_containers_and_takes_the_larger_init() -> None:
    used = usage("pods", "", pod(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1"}))
    assert used["pods"] == 1 and used["count/pods"] == 1
    assert used["requests.cpu"] == used["cpu"] == Decimal(3)
    assert used["requests.memory"] == Decimal(2 * 2**30) and used["limits.cpu"] == Decimal(2)
    assert usage("pods", "", pod("Succeeded")) == {}


def test_service_and_other_counts() -> None:
    svc = {"spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}}
    assert usage("services", "", svc) == {
        "count/services": 1,
        "services": 1,
        "services.nodeports": 2,
    }
    assert usage("deployments", "apps", {}) == {"count/deployments.apps": 1}


def test_exceeded_and_messages() -> None:
    hard, used, request = {"pods": Decimal(2), "cpu": Decimal(1)}, {"pods": Decimal(2)}, {"pods": Decimal(1)}
    over = exceeded(hard, used, request)
    assert over == ["pods"] and pretty(over, hard) == "pods=2"
    assert fmt("requests.memory", Decimal(2**30)) == "1Gi" and fmt("cpu", Decimal("0.25")) == "250m"
    assert fmt("cpu", Decimal(4)) == "4"


def test_missing_requests() -> None:
    assert missing_requests({"requests.cpu": "1", "pods": "3"}, pod(requests={"memory": "1Gi"})) == [
        "requests.cpu for: a,b"
    ]


def test_limit_range_item_defaults() -> None:
    limits, requests = item_defaults({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}})
    assert limits == {"cpu": "2"} and requests == {"cpu": "2", "memory": "1Mi"}


def test_scopes_pick_the_pods_a_quota_charges() -> None:
    long_running = pod(requests={"cpu": "500m"})
    terminating = {**long_running, "spec": {**long_running["spec"], "activeDeadlineSeconds": 3600}}
    best_effort = {"spec": {"containers": [{"name": "a"}]}}
    scoped = lambda *scopes: {"spec": {"hard": {"pods": "5"}, "scopes": list(scopes)}}  # noqa: E731
    assert matches_scopes({"spec": {"hard": {"pods": "1"}}}, "pods", "", best_effort)
    assert matches_scopes(scoped("Terminating"), "pods", "", terminating)
    assert not matches_scopes(scoped("Terminating"), "pods", "", long_running)
    assert matches_scopes(scoped("NotTerminating"), "pods", "", long_running)
    assert matches_scopes(scoped("BestEffort"), "pods", "", best_effort)
    assert not matches_scopes(scoped("BestEffort"), "pods", "", long_running)
    assert matches_scopes(scoped("NotBestEffort", "NotTerminating"), "pods", "", long_running)
    assert not matches_scopes(scoped("NotBestEffort"), "pods", "", best_effort)
    # a scoped quota never charges another kind
    assert not matches_scopes(scoped("NotTerminating"), "services", "", {})
    by_class = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}
    assert matches_scopes(by_class, "pods", "", {"spec": {"priorityClassName": "high"}})
    assert not matches_scopes(by_class, "pods", "", {"spec": {"priorityClassName": "low"}})
    assert not matches_scopes(by_class, "pods", "", best_effort)
