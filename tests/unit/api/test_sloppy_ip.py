"""Leading-zero IPv4 addresses read as decimal (CVE-2021-29923), by the API and its readers."""

from __future__ import annotations

import ipaddress

from kprov.cluster.api.sloppy_ip import canonical_ip, parse_ip_sloppy
from kprov.cluster.dns.index import service_entry
from kprov.cluster.proxy.servicemap import service_ports


def test_leading_zeros_are_decimal_never_octal() -> None:
    assert parse_ip_sloppy("10.96.0.011") == ipaddress.IPv4Address("10.96.0.11")
    assert parse_ip_sloppy("010.096.000.001") == ipaddress.IPv4Address("10.96.0.1")
    assert parse_ip_sloppy("10.96.0.256") is None and parse_ip_sloppy("10.96.0") is None
    assert parse_ip_sloppy("fd00::0a") == ipaddress.IPv6Address("fd00::a")
    assert canonical_ip("10.96.0.011") == "10.96.0.11" and canonical_ip("None") == "None"


def test_kube_proxy_and_dns_use_the_decimal_address() -> None:
    service = {"metadata": {"name": "funny-ip", "namespace": "ns"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.011", "clusterIPs": ["10.96.0.011"],
                        "ports": [{"name": "http", "port": 7180, "protocol": "TCP"}]}}
    endpoints = {"metadata": {"name": "funny-ip-x", "namespace": "ns",
                              "labels": {"kubernetes.io/service-name": "funny-ip"}},
                 "addressType": "IPv4", "ports": [{"name": "http", "port": 9376, "protocol": "TCP"}],
                 "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}]}
    (port,) = service_ports([service], [endpoints])
    assert port.cluster_ips == ("10.96.0.11",)
    assert service_entry(service).cluster_ips == ("10.96.0.11",)
