"""kube-proxy's rules for both families: ``ip6 kprov`` from the IPv6 cluster IPs and IPv6
EndpointSlices, the same chains as ``ip kprov``; IPv4 rules unchanged by dual-stack objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.nftables.apply import NftError, render_full
from kprov.cluster.proxy.families import FamilyProxier, by_family, families, family_settings, sync_families
from kprov.cluster.proxy.rules import ProxySettings, compute_ruleset, table_name
from kprov.cluster.proxy.servicemap import service_ports
from kprov.cluster.proxy.tracker import ServiceTracker
from tests.unit.proxy.objects import endpoint_slice, service

V4 = ProxySettings(node_ips=("10.77.2.11",), cluster_cidr="10.244.0.0/16", node_name="n1")
V6 = ProxySettings(node_ips=("fd77:77:2::11",), cluster_cidr="fd00:10:244::/56", node_name="n1", family=6)


def _dual(name: str, v4: str, v6: str, **spec: Any) -> dict[str, Any]:
    svc = service(name, v4, **spec)
    svc["spec"].update(clusterIPs=[v4, v6], ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")
    return svc


def _slice6(name: str, addresses: list[str], **kw: Any) -> dict[str, Any]:
    eps = endpoint_slice(name, addresses, suffix="v6", **kw)
    eps["addressType"] = "IPv6"
    return eps


def _objects() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    services = [
        _dual("web", "10.96.0.10", "fd00:10:96::a"),
        _dual("sticky", "10.96.0.11", "fd00:10:96::b", ports=[{"port": 80, "protocol": "TCP"}],
              sessionAffinity="ClientIP"),
        _dual("np", "10.96.0.12", "fd00:10:96::c", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
              type="NodePort", externalTrafficPolicy="Local"),
        _dual("lb", "10.96.0.14", "fd00:10:96::e", ports=[{"port": 53, "nodePort": 30053, "protocol": "UDP"}],
              type="LoadBalancer", internalTrafficPolicy="Local"),
        _dual("empty", "10.96.0.13", "fd00:10:96::d"),
        service("only4", "10.96.0.20"),
    ]
    services[3]["status"] = {"loadBalancer": {"ingress": [{"ip": "10.77.2.200"}, {"ip": "fd77:77:2::200"}]}}
    slices = [
        endpoint_slice("web", ["10.244.1.2"]),
        _slice6("web", ["fd00:10:244:1::2", "fd00:10:244:2::2"]),
        _slice6("sticky", ["fd00:10:244:1::3", "fd00:10:244:1::4"], port_name=""),
        _slice6("np", ["fd00:10:244:1::5"], port_name=""),
        _slice6("lb", ["fd00:10:244:1::6"], port_name="", protocol="UDP"),
        endpoint_slice("only4", ["10.244.1.9"]),
    ]
    return services, slices


def test_each_family_takes_its_own_cluster_ips_and_slices() -> None:
    services, slices = _objects()
    v6 = {sp.name: sp for sp in service_ports(services, slices, 6)}
    assert "only4" not in v6  # a single-stack IPv4 Service has no IPv6 rules
    assert v6["web"].cluster_ips == ("fd00:10:96::a",)
    assert [ep.ip for ep in v6["web"].endpoints] == ["fd00:10:244:1::2", "fd00:10:244:2::2"]
    assert v6["lb"].load_balancer_ips == ("fd77:77:2::200",)
    v4 = {sp.name: sp for sp in service_ports(services, slices, 4)}
    assert v4["web"].cluster_ips == ("10.96.0.10",)
    assert [ep.ip for ep in v4["web"].endpoints] == ["10.244.1.2"]
    assert v4["sticky"].endpoints == ()  # no IPv4 slice: rejected in the IPv4 table


def test_ipv4_rules_are_the_same_with_or_without_the_ipv6_half() -> None:
    services, slices = _objects()
    single = [service(s["metadata"]["name"], s["spec"]["clusterIP"], ports=s["spec"]["ports"],
                      **{k: v for k, v in s["spec"].items() if k not in ("clusterIP", "clusterIPs", "ports",
                                                                          "ipFamilies", "ipFamilyPolicy")})
              for s in services]
    for plain, dual in zip(single, services, strict=True):
        if "status" in dual:
            plain["status"] = {"loadBalancer": {"ingress": [{"ip": "10.77.2.200"}]}}
    v4_slices = [s for s in slices if s["addressType"] == "IPv4"]
    assert render_full(compute_ruleset(service_ports(services, slices), V4), table_name(4)) == render_full(
        compute_ruleset(service_ports(single, v4_slices), V4), table_name(4))


def test_ipv6_table_matches_ip6_and_dnats_to_bracketed_endpoints() -> None:
    services, slices = _objects()
    text = render_full(compute_ruleset(service_ports(services, slices, 6), V6), table_name(6))
    assert text.splitlines()[:3] == ["add table ip6 kprov", "delete table ip6 kprov", "table ip6 kprov {"]
    assert "\tmap service-ips { type ipv6_addr . inet_proto . inet_service : verdict; }" in text.splitlines()
    assert "ip6 daddr . meta l4proto . th dport vmap @service-ips" in text
    assert " ip daddr" not in text and " ip saddr" not in text
    assert "dnat to [fd00:10:244:1::5]:8080" in text  # NodePort, policy Local, a local endpoint
    assert "numgen random mod 2 map { 0 : fd00:10:244:1::2 . 8080, 1 : fd00:10:244:2::2 . 8080 }" in text
    assert "update @aff-" in text and "{ ip6 saddr }" in text  # session affinity per IPv6 client
    assert "ip6 saddr fd00:10:244::/56 ip6 daddr != fd00:10:244::/56 masquerade" in text
    assert "fd77:77:2::200 . udp . 53 : goto ext-" in text  # the IPv6 load-balancer address
    assert "fd00:10:96::d . tcp . 80 : goto reject-chain" in text
    assert "add element ip6 kprov nodeport-ips { fd77:77:2::11 }" in text
    assert "10.96." not in text


def test_families_come_from_the_cluster_cidrs_and_node_addresses_primary_first() -> None:
    assert families(["10.77.2.11"], ["10.244.0.0/16"]) == (4,)
    assert families([], []) == (4,)
    assert families(["10.77.2.11", "fd77:77:2::11"], ["10.244.0.0/16", "fd00:10:244::/56"]) == (4, 6)
    assert families(["fd77:77:2::11", "10.77.2.11"], ["fd00:10:244::/56", "10.244.0.0/16"]) == (6, 4)
    assert by_family(["fd00::1", "10.0.0.1", "10.0.0.2"]) == {6: ["fd00::1"], 4: ["10.0.0.1", "10.0.0.2"]}
    cidrs = ["10.244.0.0/16", "fd00:10:244::/56"]
    assert family_settings(6, ["10.77.2.11", "fd77:77:2::11"], cidrs, "n1") == V6


def test_tracker_recomputes_a_changed_service_in_both_families() -> None:
    services, slices = _objects()
    tracker = ServiceTracker((4, 6))
    for svc in services:
        tracker.set_service(svc)
    for eps in slices:
        tracker.set_slice(eps)
    assert [sp.name for sp in tracker.service_ports(6)] == ["empty", "lb", "np", "sticky", "web"]
    assert len(tracker.service_ports(4)) == 6
    moved = _slice6("web", ["fd00:10:244:3::3"])
    tracker.set_slice(moved, slices[1])
    web6 = next(sp for sp in tracker.service_ports(6) if sp.name == "web")
    assert [ep.ip for ep in web6.endpoints] == ["fd00:10:244:3::3"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_nft_accepts_both_tables_in_one_namespace(tmp_path: Path) -> None:
    services, slices = _objects()
    script = tmp_path / "rules.nft"
    script.write_text(render_full(compute_ruleset(service_ports(services, slices, 4), V4), table_name(4))
                      + render_full(compute_ruleset(service_ports(services, slices, 6), V6), table_name(6)))
    proc = subprocess.run(["unshare", "--net", "sh", "-c", f"nft -f {script} && nft list table ip6 kprov"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fd00:10:96::a . tcp . 80" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_both_families_sync_together_and_a_failure_is_raised() -> None:
    def isolated(family: int) -> FamilyProxier:  # never the host's namespace: each nft in one of its own
        proxier = FamilyProxier(family)
        proxier.applier.command[:0] = ["unshare", "--net"]
        return proxier

    services, slices = _objects()
    proxiers = [isolated(4), isolated(6)]
    ports = [service_ports(services, slices, 4), service_ports(services, slices, 6)]
    assert sync_families(proxiers, [V4, V6], {4: ports[0], 6: ports[1]}.__getitem__) == ["full", "full"]
    assert [p.applied_ports for p in proxiers] == ports
    broken = ProxySettings(node_ips=("fd77:77:2::11",), cluster_cidr="fd00:10:244::/999", family=6)
    with pytest.raises(NftError):
        sync_families([isolated(4), isolated(6)], [V4, broken], {4: ports[0], 6: ports[1]}.__getitem__)


def _sctp_objects() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """upstream's Granular Checks' NodePort Service for SCTP (port 95, netexec's 8082), both families."""
    ports = [{"name": "sctp", "port": 95, "nodePort": 30095, "protocol": "SCTP"}]
    services = [_dual("sctp", "10.96.0.15", "fd00:10:96::f", ports=ports, type="NodePort")]
    kw: dict[str, Any] = {"port": 8082, "port_name": "sctp", "protocol": "SCTP"}
    slices = [endpoint_slice("sctp", ["10.244.3.3"], **kw), _slice6("sctp", ["fd00:10:244:3::3"], **kw)]
    return services, slices


def test_an_sctp_service_gets_sctp_elements_and_dnat_in_both_tables() -> None:
    services, slices = _sctp_objects()
    v6 = render_full(compute_ruleset(service_ports(services, slices, 6), V6), table_name(6))
    v4 = render_full(compute_ruleset(service_ports(services, slices, 4), V4), table_name(4))
    assert "fd00:10:96::f . sctp . 95 : goto svc-" in v6 and "10.96.0.15 . sctp . 95 : goto svc-" in v4
    assert "sctp . 30095 : goto ext-" in v6 and "sctp . 30095 : goto ext-" in v4
    assert "meta l4proto sctp dnat to [fd00:10:244:3::3]:8082" in v6
    assert "meta l4proto sctp dnat to 10.244.3.3:8082" in v4
    assert " tcp . 95" not in v6 + v4 and "l4proto tcp dnat" not in v6 + v4


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_nft_accepts_the_sctp_rules_of_both_families(tmp_path: Path) -> None:
    services, slices = _sctp_objects()
    script = tmp_path / "rules.nft"
    script.write_text(render_full(compute_ruleset(service_ports(services, slices, 4), V4), table_name(4))
                      + render_full(compute_ruleset(service_ports(services, slices, 6), V6), table_name(6)))
    proc = subprocess.run(["unshare", "--net", "sh", "-c", f"nft -f {script} && nft list table ip6 kprov"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fd00:10:96::f . sctp . 95" in proc.stdout
