"""kprov verify's NetworkPolicy row per node, from the text of kprov-proxy's /metrics."""

from __future__ import annotations

from kprov.deploy.verify.netpol_checks import check_netpol_agents, parse_netpol_metrics

SYNCED = """# HELP kprov_netpol_rules Rules
# TYPE kprov_netpol_rules gauge
kprov_netpol_rules 12.0
# HELP kprov_netpol_synced synced
# TYPE kprov_netpol_synced gauge
kprov_netpol_synced 1.0
"""


def test_a_synced_agent_passes_with_its_rule_count() -> None:
    check = parse_netpol_metrics("h4", 0, SYNCED)
    assert check.ok and check.name == "NetworkPolicy agent on h4 synced" and check.detail == "12 rules"


def test_unsynced_missing_and_unreadable_agents_fail() -> None:
    assert not parse_netpol_metrics("h4", 0, SYNCED.replace("synced 1.0", "synced 0.0")).ok
    off = parse_netpol_metrics("h4", 0, "# TYPE kubeproxy_x gauge\nkubeproxy_x 1\n")
    assert not off.ok and "without --network-policy" in off.detail
    assert not parse_netpol_metrics("h4", 7, "").ok


def test_nodes_with_the_agent_turned_off_are_left_out() -> None:
    asked: list[str] = []

    def run(host: str, command: str) -> tuple[int, str]:
        asked.append(host)
        if host == "h5":
            raise OSError("no route to host")
        return 0, SYNCED

    rows = check_netpol_agents(["h4", "h5", "h6"], {"h6": {"kube_proxy_network_policy": False}}, run)
    assert sorted(asked) == ["h4", "h5"]
    assert [(r.name, r.ok) for r in rows] == [
        ("NetworkPolicy agent on h4 synced", True), ("NetworkPolicy agent on h5 synced", False)
    ]
