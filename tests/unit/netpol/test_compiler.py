"""The NetworkPolicy compiler: API objects in, one node's nftables ruleset out (table-driven)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.netpol.compiler import NETPOL_TABLE, NodeScope, compile_node, pod_chain_name
from kprov.cluster.nftables.apply import render_delta, render_full
from kprov.cluster.nftables.ruleset import Ruleset

NODE = NodeScope("n1", "10.244.1.0/24")
TABLE = f"ip {NETPOL_TABLE}"


def pod(
    name: str, ip: str, ns: str = "prod", node: str = "n1", ports: Any = (), **labels: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "c",
                    "ports": [
                        {"name": n, "containerPort": number, "protocol": proto} for n, number, proto in ports
                    ],
                }
            ],
        },
        "status": {"podIP": ip, "phase": "Running"},
    }


def policy(name: str = "p", ns: str = "prod", **spec: Any) -> dict[str, Any]:
    spec.setdefault("podSelector", {})
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


NAMESPACES = [namespace("prod", team="a"), namespace("dev", team="b"), namespace("ops", team="a")]
SERVER = pod("server", "10.244.1.10", app="db", ports=[("pg", 5432, "TCP"), ("dns", 53, "UDP")])
CLIENT = pod("client", "10.244.2.20", node="n2", role="api")
OTHER = pod("other", "10.244.2.21", node="n2", role="web")
DEV = pod("devpod", "10.244.3.30", ns="dev", node="n3", role="api")
OPS = pod("opspod", "10.244.3.31", ns="ops", node="n3", role="api")
PODS = [SERVER, CLIENT, OTHER, DEV, OPS]


def compiled(*policies: dict[str, Any], pods: list[dict[str, Any]] = PODS) -> Ruleset:
    return compile_node(NODE, policies, pods, NAMESPACES)


def chain_rules(ruleset: Ruleset, direction: str, pod_name: str = "server", ns: str = "prod") -> list[str]:
    chain = ruleset.chains[pod_chain_name(direction, ns, pod_name)]
    return list(chain.rules)


def set_of(ruleset: Ruleset, rule: str) -> list[str]:
    """The elements of the set a rule refers to (``@name``)."""
    name = rule.split("@", 1)[1].split()[0]
    return sorted(ruleset.elements[name])


def test_pods_no_policy_selects_are_allowed_and_known() -> None:
    ruleset = compiled(policy(podSelector={"matchLabels": {"app": "none"}}))
    assert ruleset.elements["ingress-pods"] == {} and ruleset.elements["egress-pods"] == {}
    assert list(ruleset.elements["local-pods"]) == ["10.244.1.10"]  # only this node's pods
    assert not [c for c in ruleset.chains if c.startswith(("ingress-", "egress-"))]


def test_deny_all_ingress_is_a_chain_that_only_drops() -> None:
    ruleset = compiled(policy())
    assert chain_rules(ruleset, "ingress") == ["drop"]
    assert ruleset.elements["ingress-pods"] == {
        "10.244.1.10": f"jump {pod_chain_name('ingress', 'prod', 'server')}"
    }
    assert ruleset.elements["egress-pods"] == {}


def test_base_chains_accept_replies_and_the_node_and_drop_unprogrammed_pods() -> None:
    forward = compiled().chains["forward"]
    assert forward.hook.startswith("type filter hook forward")
    assert forward.rules[:3] == (
        "ct state established,related accept",
        "iif lo accept",
        "fib saddr type local accept",
    )
    assert "ip daddr 10.244.1.0/24 ip daddr != @local-pods drop" in forward.rules
    assert forward.rules[-2:] == ("ip saddr vmap @egress-pods", "ip daddr vmap @ingress-pods")
    without_cidr = compile_node(NodeScope("n1"), [], PODS, NAMESPACES).chains["forward"]
    assert not [r for r in without_cidr.rules if "local-pods" in r]


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ({"podSelector": {"matchLabels": {"role": "api"}}}, ["10.244.2.20"]),
        ({"podSelector": {}}, ["10.244.1.10", "10.244.2.20", "10.244.2.21"]),
        (
            {"namespaceSelector": {"matchLabels": {"team": "a"}}},
            ["10.244.1.10", "10.244.2.20", "10.244.2.21", "10.244.3.31"],
        ),
        (
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "api"}}},
            ["10.244.2.20", "10.244.3.30", "10.244.3.31"],
        ),
        (
            {
                "namespaceSelector": {"matchLabels": {"team": "b"}},
                "podSelector": {"matchLabels": {"role": "api"}},
            },
            ["10.244.3.30"],
        ),
        (
            {"podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["api"]}]}},
            ["10.244.1.10", "10.244.2.21"],
        ),
    ],
)
def test_selector_peers_are_sets_of_pod_ips(peer: dict[str, Any], allowed: list[str]) -> None:
    ruleset = compiled(policy(podSelector={"matchLabels": {"app": "db"}}, ingress=[{"from": [peer]}]))
    rule, drop = chain_rules(ruleset, "ingress")
    assert rule.startswith("ip saddr @peers-") and rule.endswith(" accept") and drop == "drop"
    assert set_of(ruleset, rule) == allowed


@pytest.mark.parametrize(
    ("port", "match"),
    [
        ({"protocol": "TCP", "port": 5432}, "meta l4proto tcp th dport 5432"),
        ({"protocol": "UDP", "port": 53}, "meta l4proto udp th dport 53"),
        ({"protocol": "SCTP", "port": 9999}, "meta l4proto sctp th dport 9999"),
        ({"protocol": "TCP", "port": 30000, "endPort": 32767}, "meta l4proto tcp th dport 30000-32767"),
        ({"protocol": "TCP", "port": 80, "endPort": 80}, "meta l4proto tcp th dport 80"),
        ({"protocol": "UDP"}, "meta l4proto udp"),
        ({"protocol": "TCP", "port": "pg"}, "meta l4proto tcp th dport 5432"),
        ({"protocol": "UDP", "port": "dns"}, "meta l4proto udp th dport 53"),
    ],
)
def test_ingress_ports(port: dict[str, Any], match: str) -> None:
    ruleset = compiled(policy(ingress=[{"ports": [port]}]))
    assert chain_rules(ruleset, "ingress") == [f"{match} accept", "drop"]


def test_a_named_port_the_pod_lacks_allows_nothing() -> None:
    ruleset = compiled(policy(ingress=[{"ports": [{"protocol": "UDP", "port": "pg"}]}]))
    assert chain_rules(ruleset, "ingress") == ["drop"]


def test_peers_times_ports_and_empty_lists_mean_any() -> None:
    ruleset = compiled(
        policy(
            ingress=[
                {
                    "from": [{"podSelector": {}}, {"ipBlock": {"cidr": "192.168.0.0/16"}}],
                    "ports": [{"protocol": "TCP", "port": 1}, {"protocol": "TCP", "port": 2}],
                },
                {},
            ]
        )
    )
    rules = chain_rules(ruleset, "ingress")
    assert len(rules) == 6 and rules[-2:] == ["accept", "drop"]
    assert "ip saddr 192.168.0.0/16 meta l4proto tcp th dport 2 accept" in rules


@pytest.mark.parametrize(
    ("block", "rule"),
    [
        ({"cidr": "10.0.0.0/8"}, "ip daddr 10.0.0.0/8 return"),
        (
            {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]},
            "ip daddr 10.0.0.0/8 ip daddr != { 10.1.0.0/16, 10.2.0.0/16 } return",
        ),
        ({"cidr": "10.1.2.3/8"}, "ip daddr 10.0.0.0/8 return"),
    ],
)
def test_egress_ip_blocks_return_so_ingress_is_still_checked(block: dict[str, Any], rule: str) -> None:
    ruleset = compiled(policy(policyTypes=["Egress"], egress=[{"to": [{"ipBlock": block}]}]))
    assert chain_rules(ruleset, "egress") == [rule, "drop"]
    assert pod_chain_name("ingress", "prod", "server") not in ruleset.chains
    assert ruleset.elements["egress-pods"] == {
        "10.244.1.10": f"jump {pod_chain_name('egress', 'prod', 'server')}"
    }


def test_ipv6_blocks_never_match_the_ipv4_pod_network() -> None:
    ruleset = compiled(policy(policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "fd00::/64"}}]}]))
    assert chain_rules(ruleset, "egress") == ["drop"]


def test_named_egress_ports_resolve_against_each_destination() -> None:
    dns_a = pod("dns-a", "10.244.2.53", node="n2", ports=[("dns", 53, "UDP")])
    dns_b = pod("dns-b", "10.244.3.53", node="n3", ports=[("dns", 5353, "UDP")])
    ruleset = compiled(
        policy(policyTypes=["Egress"], egress=[{"ports": [{"protocol": "UDP", "port": "dns"}]}]),
        pods=[*PODS, dns_a, dns_b],
    )
    rule, _ = chain_rules(ruleset, "egress")
    assert rule.startswith("ip daddr . meta l4proto . th dport @named-") and rule.endswith(" return")
    assert set_of(ruleset, rule) == [
        "10.244.1.10 . udp . 53",
        "10.244.2.53 . udp . 53",
        "10.244.3.53 . udp . 5353",
    ]


def test_policies_add_up() -> None:
    ruleset = compiled(
        policy("a", ingress=[{"ports": [{"protocol": "TCP", "port": 1}]}]),
        policy(
            "b",
            podSelector={"matchLabels": {"app": "db"}},
            ingress=[{"ports": [{"protocol": "TCP", "port": 2}]}],
        ),
        policy(
            "c",
            podSelector={"matchLabels": {"app": "other"}},
            ingress=[{"ports": [{"protocol": "TCP", "port": 3}]}],
        ),
        policy("d", ns="dev", ingress=[{"ports": [{"protocol": "TCP", "port": 4}]}]),
    )
    assert chain_rules(ruleset, "ingress") == [
        "meta l4proto tcp th dport 1 accept",
        "meta l4proto tcp th dport 2 accept",
        "drop",
    ]


def test_egress_only_policy_leaves_ingress_open_and_both_types_isolate_both() -> None:
    egress_only = compiled(policy(policyTypes=["Egress"]))
    assert pod_chain_name("ingress", "prod", "server") not in egress_only.chains
    assert chain_rules(egress_only, "egress") == ["drop"]
    both = compiled(policy(policyTypes=["Ingress", "Egress"]))
    assert chain_rules(both, "ingress") == ["drop"] and chain_rules(both, "egress") == ["drop"]
    derived = compiled(policy(egress=[{}]))  # no policyTypes: derived as the API server does
    assert chain_rules(derived, "egress") == ["return", "drop"]


def test_host_network_finished_and_unaddressed_pods_are_not_policy_pods() -> None:
    host = pod("host", "10.0.0.5", role="api")
    host["spec"]["hostNetwork"] = True
    done = pod("done", "10.244.2.99", node="n2", role="api")
    done["status"]["phase"] = "Succeeded"
    pending = pod("pending", "", node="n2", role="api")
    ruleset = compiled(
        policy(ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "api"}}}]}]),
        pods=[SERVER, host, done, pending],
    )
    rule, _ = chain_rules(ruleset, "ingress")
    assert set_of(ruleset, rule) == []


def test_a_peer_pod_change_touches_only_set_elements() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "api"}}}]}],
    }
    before = compiled(policy(**spec))
    relabelled = pod("other", "10.244.2.21", node="n2", role="api")
    after = compiled(policy(**spec), pods=[SERVER, CLIENT, relabelled, DEV, OPS])
    assert before.chains == after.chains
    delta = render_delta(before, after, table=TABLE)
    assert delta is not None
    assert delta.strip().splitlines() == [
        f"add element {TABLE} {chain_rules(after, 'ingress')[0].split('@')[1].split()[0]} {{ 10.244.2.21 }}"
    ]


def test_a_policy_change_touches_only_the_chains_of_pods_it_selects() -> None:
    second = pod("server2", "10.244.1.11", app="web")
    before = compiled(policy("a", podSelector={"matchLabels": {"app": "web"}}), pods=[*PODS, second])
    after = compiled(
        policy(
            "a",
            podSelector={"matchLabels": {"app": "web"}},
            ingress=[{"ports": [{"protocol": "TCP", "port": 80}]}],
        ),
        pods=[*PODS, second],
    )
    delta = render_delta(before, after, table=TABLE)
    assert delta is not None
    web_chain = pod_chain_name("ingress", "prod", "server2")
    assert delta.strip().splitlines() == [
        f"flush chain {TABLE} {web_chain}",
        f"add rule {TABLE} {web_chain} meta l4proto tcp th dport 80 accept",
        f"add rule {TABLE} {web_chain} drop",
    ]


def test_dropped_packets_can_be_logged() -> None:
    ruleset = compile_node(NodeScope("n1", "10.244.1.0/24", log_drops=True), [policy()], PODS, NAMESPACES)
    assert chain_rules(ruleset, "ingress") == ['log prefix "kprov-netpol drop " level debug drop']


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
    reason="needs root, nft and unshare for a throwaway network namespace",
)
def test_nft_accepts_the_full_script_and_a_delta(tmp_path: Path) -> None:
    # the real parser and kernel in a private network namespace
    everything = policy(
        "all",
        podSelector={},
        ingress=[
            {
                "from": [
                    {"podSelector": {"matchLabels": {"role": "api"}}, "namespaceSelector": {}},
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                ],
                "ports": [
                    {"protocol": "TCP", "port": "pg"},
                    {"protocol": "SCTP", "port": 1, "endPort": 9},
                    {"protocol": "UDP"},
                ],
            },
        ],
        egress=[{"to": [{"podSelector": {}}], "ports": [{"protocol": "UDP", "port": "dns"}]}],
    )
    logging = NodeScope("n1", "10.244.1.0/24", log_drops=True)
    before = compile_node(logging, [policy()], PODS, NAMESPACES)
    after = compile_node(logging, [everything], PODS, NAMESPACES)
    script = tmp_path / "rules.nft"
    delta = render_delta(before, after, table=TABLE)
    assert delta is not None
    script.write_text(render_full(before, TABLE) + "\n" + delta + "\n" + render_full(after, TABLE))
    proc = subprocess.run(["unshare", "--net", "nft", "-f", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
