"""Quota arithmetic (what a pod or service uses, what exceeds, how it is written) and the
LimitRange defaults derivation."""

from decimal import Decimal

from kprov.cluster.api.quota import exceeded, fmt, missing_requests, pretty, usage
from kprov.cluster.apiserver.limitranger import item_defaults


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
