"""Which UDP conntrack entries go stale when endpoints change."""

from __future__ import annotations

from kprov.cluster.proxy.conntrack import stale_udp_flows
from kprov.cluster.proxy.servicemap import Endpoint, ServicePort


def _dns(*ips: str, protocol: str = "udp", node_port: int = 0) -> ServicePort:
    return ServicePort(
        "kube-system",
        "dns",
        "dns",
        protocol,
        ("10.96.0.10",),
        53,
        node_port=node_port,
        endpoints=tuple(Endpoint(ip, 53) for ip in ips),
    )


def test_removed_udp_endpoint_flows_are_deleted_by_cluster_ip_and_node_port() -> None:
    flows = stale_udp_flows(
        [_dns("10.244.1.5", "10.244.2.5", node_port=30053)], [_dns("10.244.1.5", node_port=30053)]
    )
    assert flows == [
        ["-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.244.2.5"],
        ["-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.244.2.5"],
    ]


def test_first_endpoint_clears_entries_made_while_rejecting() -> None:
    assert stale_udp_flows([_dns()], [_dns("10.244.1.5")]) == [
        ["-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"]
    ]


def test_tcp_and_unchanged_udp_need_nothing() -> None:
    assert stale_udp_flows([_dns("10.244.1.5", protocol="tcp")], [_dns(protocol="tcp")]) == []
    assert stale_udp_flows([_dns("10.244.1.5")], [_dns("10.244.1.5")]) == []
