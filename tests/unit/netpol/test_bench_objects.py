"""The NetworkPolicy bench's pure helpers (tests/bench/_netpol_objects.py), and the compiler's
peer sets on that synthetic cluster checked against a brute-force evaluation."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kprov.cluster.api.selectors import label_selector_from_object
from kprov.cluster.netpol.compiler import NodeScope, compile_node, pod_chain_name
from tests.bench._netpol_objects import (
    Shape,
    namespaces,
    nodes,
    percentile,
    pods,
    policies,
    spanning_policies,
    with_port,
)

SMALL = Shape(pods=500, policies=50, agents=5)
FULL = Shape(pods=5000, policies=1000, agents=5)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100..1, unsorted on purpose
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 0.0) == 1.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


@pytest.mark.parametrize(("shape", "spread"), [(SMALL, (5, 5)), (FULL, (50, 50))])
def test_shape_sizes_and_pod_addresses(shape: Shape, spread: tuple[int, int]) -> None:
    all_pods = pods(shape)
    assert (shape.nodes, shape.namespaces) == spread
    assert len(all_pods) == shape.pods and len(policies(shape)) == shape.policies
    assert len(nodes(shape)) == shape.nodes and len(namespaces(shape)) == shape.namespaces
    ips = [p["status"]["podIP"] for p in all_pods]
    assert len(set(ips)) == len(ips)
    cidrs = {n["metadata"]["name"]: ipaddress.ip_network(n["spec"]["podCIDR"]) for n in nodes(shape)}
    for pod in all_pods:
        assert ipaddress.ip_address(pod["status"]["podIP"]) in cidrs[pod["spec"]["nodeName"]]
    names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in policies(shape)}
    assert len(names) == shape.policies


def test_spanning_policies_select_pods_on_every_agent_node() -> None:
    for shape in (SMALL, FULL):
        all_pods, all_policies = pods(shape), policies(shape)
        chosen = spanning_policies(shape, all_policies, all_pods)
        assert chosen, shape
        assert len(chosen) < len(all_policies) or shape is SMALL
        for policy in chosen[:5]:
            selector = label_selector_from_object(policy["spec"]["podSelector"])
            where = {
                p["spec"]["nodeName"] for p in all_pods
                if p["metadata"]["namespace"] == policy["metadata"]["namespace"]
                and selector.matches(p["metadata"]["labels"])
            }
            assert {shape.node_name(m) for m in range(shape.agents)} <= where


def test_with_port_replaces_the_first_rules_ports_on_a_copy() -> None:
    original = next(p for p in policies(SMALL) if len(p["spec"]["ingress"][0]["ports"]) == 2)
    changed = with_port(original, 20007)
    assert changed["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 20007}]
    assert len(original["spec"]["ingress"][0]["ports"]) == 2
    scope = NodeScope(SMALL.node_name(0), "10.244.0.0/24")
    ruleset = compile_node(scope, [changed], pods(SMALL), namespaces(SMALL))
    selected = next(
        p for p in pods(SMALL)
        if p["spec"]["nodeName"] == scope.node_name
        and p["metadata"]["namespace"] == changed["metadata"]["namespace"]
        and p["metadata"]["labels"] == changed["spec"]["podSelector"]["matchLabels"]
    )
    meta = selected["metadata"]
    chain = ruleset.chains[pod_chain_name("ingress", meta["namespace"], meta["name"])]
    assert any("th dport 20007 accept" in rule for rule in chain.rules)


def _brute_force_peers(peer: dict[str, Any], policy_ns: str, all_pods: list[dict[str, Any]],
                       labels: dict[str, dict[str, str]]) -> list[str]:
    pod_selector = label_selector_from_object(peer.get("podSelector") or {})
    ns_selector = peer.get("namespaceSelector")
    found = []
    for pod in all_pods:
        namespace = pod["metadata"]["namespace"]
        in_scope = (
            namespace == policy_ns if ns_selector is None
            else label_selector_from_object(ns_selector).matches(labels.get(namespace, {}))
        )
        if in_scope and pod_selector.matches(pod["metadata"]["labels"]):
            found.append(pod["status"]["podIP"])
    return sorted(found, key=ipaddress.IPv4Address)


def test_peer_sets_equal_a_brute_force_evaluation_over_the_synthetic_cluster() -> None:
    all_pods, all_namespaces = pods(SMALL), namespaces(SMALL)
    all_namespaces = all_namespaces[1:]  # ns-000's pods stay, its Namespace object is gone
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in all_namespaces}
    # an empty namespaceSelector also reaches pods whose namespace object is unknown
    extra = {"metadata": {"name": "np-any", "namespace": "ns-001"},
             "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}}
    all_policies = [*policies(SMALL), extra]
    scope = NodeScope(SMALL.node_name(0), "10.244.0.0/24")
    ruleset = compile_node(scope, all_policies, all_pods, all_namespaces)
    checked = 0
    for policy in all_policies:
        for index, peer in enumerate(policy["spec"]["ingress"][0]["from"]):
            if "ipBlock" in peer:
                continue
            wanted = _brute_force_peers(peer, policy["metadata"]["namespace"], all_pods, labels)
            key = f"-{policy['metadata']['namespace']}/{policy['metadata']['name']}/ingress/0/{index}"
            sets = [name for name in ruleset.sets if name.endswith(key)]
            assert len(sets) == 1, (policy["metadata"], index)
            assert list(ruleset.elements.get(sets[0], {})) == wanted, (policy["metadata"], index)
            checked += 1
    assert checked > 40
    any_namespace = next(n for n in ruleset.sets if n.endswith("-ns-001/np-any/ingress/0/0"))
    assert len(ruleset.elements[any_namespace]) == SMALL.pods
