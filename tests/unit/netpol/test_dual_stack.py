"""NetworkPolicies on a dual-stack node: the same policies compiled into ``ip6 kprov-netpol``
over the pods' IPv6 addresses (``status.podIPs``) and IPv6 ipBlocks; IPv4 unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.netpol.agent import NetpolAgent, slim_pod
from kprov.cluster.netpol.compiler import NETPOL_TABLE, NodeScope, compile_node, pod_chain_name
from kprov.cluster.nftables.apply import render_full
from tests.unit.netpol.test_compiler import NAMESPACES, pod, policy

V4 = NodeScope("n1", "10.244.1.0/24")
V6 = NodeScope("n1", "fd00:10:244:1::/64", family=6)


def _dual(name: str, v4: str, v6: str, **kw: Any) -> dict[str, Any]:
    obj = pod(name, v4, **kw)
    obj["status"]["podIPs"] = [{"ip": v4}, {"ip": v6}]
    return obj


SERVER = _dual("server", "10.244.1.10", "fd00:10:244:1::a", app="db", ports=[("pg", 5432, "TCP")])
CLIENT = _dual("client", "10.244.2.20", "fd00:10:244:2::14", node="n2", role="api")
OTHER = _dual("other", "10.244.2.21", "fd00:10:244:2::15", node="n2", role="web")
PODS = [SERVER, CLIENT, OTHER]
ISOLATE = policy(
    podSelector={"matchLabels": {"app": "db"}},
    ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "api"}}},
                       {"ipBlock": {"cidr": "fd77:77:2::/64", "except": ["fd77:77:2::99/128"]}},
                       {"ipBlock": {"cidr": "10.77.2.0/24"}}],
              "ports": [{"protocol": "TCP", "port": "pg"}]}],
)


def _ingress(ruleset: Any) -> list[str]:
    return list(ruleset.chains[pod_chain_name("ingress", "prod", "server")].rules)


def test_ipv6_rules_select_pods_by_their_ipv6_address_and_keep_ipv6_blocks() -> None:
    ruleset = compile_node(V6, [ISOLATE], PODS, NAMESPACES)
    rules = _ingress(ruleset)
    peers = next(name for name in ruleset.sets if name.startswith("peers-"))
    assert ruleset.sets[peers].type == "ipv6_addr"
    assert list(ruleset.elements[peers]) == ["fd00:10:244:2::14"]  # the api pod, by its IPv6 address
    assert rules == [
        f"ip6 saddr @{peers} meta l4proto tcp th dport 5432 accept",
        "ip6 saddr fd77:77:2::/64 ip6 saddr != { fd77:77:2::99/128 } meta l4proto tcp th dport 5432 accept",
        "drop",
    ]
    chain = pod_chain_name("ingress", "prod", "server")
    assert ruleset.elements["ingress-pods"] == {"fd00:10:244:1::a": f"jump {chain}"}
    assert "ip6 saddr fd00:10:244:1::/64 ip6 saddr != @local-pods drop" in ruleset.chains["forward"].rules
    assert not any(" ip " in f" {r}" for chain in ruleset.chains.values() for r in chain.rules)


def test_ipv4_rules_of_dual_stack_pods_are_those_of_single_stack_ones() -> None:
    single = [pod("server", "10.244.1.10", app="db", ports=[("pg", 5432, "TCP")]),
              pod("client", "10.244.2.20", node="n2", role="api"),
              pod("other", "10.244.2.21", node="n2", role="web")]
    table = f"ip {NETPOL_TABLE}"
    assert render_full(compile_node(V4, [ISOLATE], PODS, NAMESPACES), table) == render_full(
        compile_node(V4, [ISOLATE], single, NAMESPACES), table)


def test_agent_adds_the_ipv6_table_only_for_a_node_with_an_ipv6_pod_range() -> None:
    agent = NetpolAgent.__new__(NetpolAgent)
    agent.hostname, agent.log_drops = "n1", False

    class _Nodes:
        def __init__(self, spec: dict[str, Any]) -> None:
            self.store = self
            self.spec = spec

        def items(self) -> list[dict[str, Any]]:
            return [{"metadata": {"name": "n1"}, "spec": self.spec}]

    agent.nodes = _Nodes({"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]})  # type: ignore[assignment]
    assert agent._scopes() == [V4]
    agent.nodes = _Nodes({"podCIDR": "10.244.1.0/24",  # type: ignore[assignment]
                          "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]})
    assert agent._scopes() == [V4, V6]
    assert slim_pod(SERVER)["status"]["podIPs"] == [{"ip": "10.244.1.10"}, {"ip": "fd00:10:244:1::a"}]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_nft_accepts_both_families_tables(tmp_path: Path) -> None:
    script = tmp_path / "rules.nft"
    script.write_text(render_full(compile_node(V4, [ISOLATE], PODS, NAMESPACES), f"ip {NETPOL_TABLE}")
                      + render_full(compile_node(V6, [ISOLATE], PODS, NAMESPACES), f"ip6 {NETPOL_TABLE}"))
    proc = subprocess.run(["unshare", "--net", "nft", "-f", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
