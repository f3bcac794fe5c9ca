"""A pod's resolv.conf per dnsPolicy (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.dns.resolvconf import ResolvConf, parse_resolv_conf
from kprov.cluster.kubelet.pods.podconfig import NodeSettings, pod_dns

HOST = parse_resolv_conf("nameserver 10.77.3.1\nsearch lab.example corp.example\noptions timeout:2\n")
SETTINGS = NodeSettings("n1", cluster_dns=("10.96.0.10",), host_dns=HOST)
CLUSTER_SEARCH = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"containers": [], **spec}}


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, (["10.96.0.10"], [*CLUSTER_SEARCH, "lab.example", "corp.example"], ["ndots:5"])),
    ({"dnsPolicy": "ClusterFirst", "hostNetwork": True},
     (["10.77.3.1"], ["lab.example", "corp.example"], ["timeout:2"])),
    ({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True},
     (["10.96.0.10"], [*CLUSTER_SEARCH, "lab.example", "corp.example"], ["ndots:5"])),
    ({"dnsPolicy": "Default"}, (["10.77.3.1"], ["lab.example", "corp.example"], ["timeout:2"])),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["a.test"],
                                         "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
     (["1.2.3.4"], ["a.test"], ["ndots:2", "edns0"])),
    ({"dnsConfig": {"nameservers": ["10.96.0.10", "1.2.3.4"], "options": [{"name": "ndots", "value": "1"}]}},
     (["10.96.0.10", "1.2.3.4"], [*CLUSTER_SEARCH, "lab.example", "corp.example"], ["ndots:1"])),
])
def test_resolv_conf_per_policy(spec: dict[str, Any], expected: tuple[list[str], ...]) -> None:
    assert pod_dns(SETTINGS, pod(**spec)) == expected


def test_cluster_first_without_cluster_dns_falls_back_to_the_host() -> None:
    settings = NodeSettings("n1", host_dns=HOST)
    assert pod_dns(settings, pod()) == (["10.77.3.1"], ["lab.example", "corp.example"], ["timeout:2"])


def test_search_paths_are_capped() -> None:
    wide = ResolvConf(search=[f"d{i}.test" for i in range(40)])
    many = NodeSettings("n1", cluster_dns=("10.96.0.10",), host_dns=wide)
    assert len(pod_dns(many, pod())[1]) == 32
