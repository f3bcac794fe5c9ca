"""The cluster DNS on a dual-stack cluster: AAAA for each IPv6 cluster IP and pod address,
headless Services answering both families' endpoints, PTR under ip6.arpa."""

from __future__ import annotations

import ipaddress
from typing import Any

from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import ZoneConfig, lookup
from tests.unit.dns.test_records import ep, eps, svc, values

Z = ZoneConfig()


def _slice6(service: str, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    body = eps(service, endpoints, name=f"{service}-v6")
    body["addressType"] = "IPv6"
    return body


def _index() -> ClusterIndex:
    ix = ClusterIndex()
    ix.set_service(svc("web", ip="10.96.0.20", clusterIPs=["10.96.0.20", "fd00:10:96::14"],
                       ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"))
    ix.set_service(svc("db", ip="None", clusterIP="None", ipFamilies=["IPv4", "IPv6"]))
    ix.set_slice(eps("db", [ep("10.244.1.5", hostname="db-0")]))
    ix.set_slice(_slice6("db", [ep("fd00:10:244:1:0:0:0:5", hostname="db-0")]))  # not canonical text
    pod_ips = [{"ip": "10.244.1.7"}, {"ip": "fd00:10:244:1::7"}]
    status = {"podIP": "10.244.1.7", "podIPs": pod_ips}
    ix.set_pod({"metadata": {"name": "p", "namespace": "default"}, "status": status})
    return ix


def _ask(ix: ClusterIndex, name: str, qtype: str) -> list[tuple[str, str, str]]:
    answer = lookup(ix, Z, name, qtype)
    assert answer is not None and answer.rcode == "NOERROR", answer
    return values(answer)


def test_a_dual_stack_service_answers_a_and_aaaa_with_its_cluster_ip_of_each_family() -> None:
    ix = _index()
    assert _ask(ix, "web.default.svc.cluster.local", "A") == [
        ("web.default.svc.cluster.local.", "A", "10.96.0.20")]
    assert _ask(ix, "web.default.svc.cluster.local", "AAAA") == [
        ("web.default.svc.cluster.local.", "AAAA", "fd00:10:96::14")]


def test_a_headless_service_answers_both_families_endpoints() -> None:
    ix = _index()
    assert _ask(ix, "db.default.svc.cluster.local", "AAAA") == [
        ("db.default.svc.cluster.local.", "AAAA", "fd00:10:244:1::5")]
    assert _ask(ix, "db-0.db.default.svc.cluster.local", "ANY") == [
        ("db-0.db.default.svc.cluster.local.", "A", "10.244.1.5"),
        ("db-0.db.default.svc.cluster.local.", "AAAA", "fd00:10:244:1::5")]


def test_pods_answer_aaaa_for_their_ipv6_address_in_verified_mode() -> None:
    ix = _index()
    assert _ask(ix, "fd00-10-244-1--7.default.pod.cluster.local", "AAAA") == [
        ("fd00-10-244-1--7.default.pod.cluster.local.", "AAAA", "fd00:10:244:1::7")]
    assert _ask(ix, "10-244-1-7.default.pod.cluster.local", "A")
    other = lookup(ix, Z, "fd00-10-244-1--8.default.pod.cluster.local", "AAAA")
    assert other is not None and other.rcode == "NXDOMAIN"
    ix.delete_pod({"metadata": {"name": "p", "namespace": "default"}})
    gone = lookup(ix, Z, "fd00-10-244-1--7.default.pod.cluster.local", "AAAA")
    assert gone is not None and gone.rcode == "NXDOMAIN"


def test_an_ipv6_label_with_three_dashes_is_not_mistaken_for_ipv4() -> None:
    name = "fd00--1-2.any.pod.cluster.local"
    answer = lookup(ClusterIndex(), ZoneConfig(pods="insecure"), name, "AAAA")
    assert answer is not None and values(answer) == [(name + ".", "AAAA", "fd00::1:2")]


def test_ptr_under_ip6_arpa_for_cluster_ips_and_headless_endpoints() -> None:
    ix = _index()
    for ip, target in (("fd00:10:96::14", "web.default.svc.cluster.local."),
                       ("fd00:10:244:1::5", "db-0.db.default.svc.cluster.local.")):
        name = ipaddress.IPv6Address(ip).reverse_pointer
        assert name.endswith(".ip6.arpa")
        assert _ask(ix, name, "PTR") == [(name + ".", "PTR", target)]
