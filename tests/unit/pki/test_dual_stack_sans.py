"""IPv6 SANs on a dual-stack inventory: the API server's IPv6 service address and every
node's IPv6 address; an IPv4-only inventory issues what it always did."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kprov.pki import read_pair
from kprov.pki.store import ClusterPki, cert_sans
from kprov.pki.topology import DEFAULT_SERVICE_CIDR_IPV6, TopologyError

from .conftest import FIVE, FIVE_VARS, make_topology

ROLES = Path(__file__).resolve().parents[3] / "roles"
DUAL = {h: {**v, "kprov_dual_stack": True, "kprov_node_ipv6": f"fd77:77:2::{10 + i}"}
        for i, (h, v) in enumerate(FIVE_VARS.items(), start=1)}


def _ips(pki_dir: Path, name: str) -> list[str]:
    return list(cert_sans(read_pair(pki_dir, name).cert)[1])


def test_dual_stack_adds_the_ipv6_service_address_and_node_addresses(tmp_path: Path) -> None:
    topo = make_topology(FIVE, DUAL)
    assert topo.service_ipv6 == "fd00:10:96::1"
    ClusterPki(tmp_path).ensure(topo)
    apiserver = _ips(tmp_path, "apiserver")
    assert {"10.96.0.1", "fd00:10:96::1", "fd77:77:2::11", "fd77:77:2::13"} <= set(apiserver)
    assert "fd77:77:2::14" not in apiserver  # a worker is no API server
    assert {"10.77.2.14", "fd77:77:2::14"} <= set(_ips(tmp_path, "kubelet/h4/serving"))
    assert topo.hosts["h4"].address == "10.77.2.14"  # the IPv4 address stays the one to reach


def test_ipv4_only_inventories_have_no_ipv6_san() -> None:
    topo = make_topology(FIVE, FIVE_VARS)
    assert topo.service_ipv6 is None
    assert not any(":" in ip for host in topo.hosts.values() for ip in host.ips)


def test_ipv6_service_range_from_the_comma_list_or_the_per_family_variable() -> None:
    listed = {h: {**v, "kprov_service_cidrs": "10.96.0.0/12,fd00:99::/108"} for h, v in FIVE_VARS.items()}
    assert make_topology(FIVE, listed).service_ipv6 == "fd00:99::1"
    own = {h: {**v, "kprov_service_cidr_ipv6": "fd00:42::/112"} for h, v in DUAL.items()}
    assert make_topology(FIVE, own).service_ipv6 == "fd00:42::1"
    bad = {h: {**v, "kprov_service_cidrs": "10.96.0.0/12,nonsense"} for h, v in FIVE_VARS.items()}
    with pytest.raises(TopologyError, match="service CIDR 'nonsense'"):
        make_topology(FIVE, bad)


def test_a_templated_ipv6_address_is_not_taken_for_a_name() -> None:
    templated = {h: {**v, "kprov_node_ipv6": "{{ ansible_default_ipv6.address }}"} for h, v in DUAL.items()}
    assert make_topology(FIVE, templated).hosts["h1"].dns_names == ("h1",)


def test_the_default_ipv6_service_range_is_the_roles() -> None:
    defaults = yaml.safe_load((ROLES / "kprov_defaults" / "defaults" / "main.yml").read_text())
    assert defaults["kprov_service_cidr_ipv6"] == DEFAULT_SERVICE_CIDR_IPV6
