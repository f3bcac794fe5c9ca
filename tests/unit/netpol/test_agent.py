"""The agent's pieces that need no cluster: what wakes it, and what /metrics says."""

from __future__ import annotations

import copy
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from kprov.cluster.netpol.agent import NetpolMetrics, _facts, slim_pod
from kprov.cluster.netpol.compiler import NodeScope, compile_node

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a"}, "resourceVersion": "1"},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i", "ports": [
        {"name": "http", "containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}]}]},
    "status": {"podIP": "10.244.1.5", "phase": "Running",
               "conditions": [{"type": "Ready", "status": "False"}]},
}


def test_status_noise_does_not_wake_the_agent_but_what_policies_read_does() -> None:
    ready = copy.deepcopy(POD)
    ready["metadata"]["resourceVersion"] = "2"
    ready["status"]["conditions"][0]["status"] = "True"
    assert _facts(slim_pod(POD)) == _facts(slim_pod(ready))
    for path, value in ((("metadata", "labels"), {"app": "b"}), (("status", "podIP"), "10.244.1.6"),
                        (("status", "phase"), "Succeeded"), (("spec", "nodeName"), "n2")):
        moved = copy.deepcopy(POD)
        moved[path[0]][path[1]] = value
        assert _facts(slim_pod(POD)) != _facts(slim_pod(moved)), path


def test_a_slim_pod_compiles_like_the_full_one() -> None:
    policy = {"metadata": {"name": "x", "namespace": "ns"},
              "spec": {"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": "http"}]}]}}
    scope = NodeScope("n1", "10.244.1.0/24")
    assert compile_node(scope, [policy], [POD], []) == compile_node(scope, [policy], [slim_pod(POD)], [])


def test_metrics_names_and_values() -> None:
    registry = CollectorRegistry(auto_describe=False)
    metrics = NetpolMetrics(registry)
    before = generate_latest(registry).decode()
    assert "kprov_netpol_synced 0.0" in before
    policy = {"metadata": {"name": "x", "namespace": "ns"}, "spec": {"podSelector": {}}}
    metrics.record(0.004, compile_node(NodeScope("n1", "10.244.1.0/24"), [policy], [POD], []))
    text = generate_latest(registry).decode()
    assert "kprov_netpol_synced 1.0" in text
    assert "kprov_netpol_isolated_pods 1.0" in text
    assert 'kprov_netpol_sync_duration_seconds_bucket{le="0.004"} 1.0' in text
    assert "kprov_netpol_rules 13.0" in text  # forward 7, input 5, the pod chain 1
