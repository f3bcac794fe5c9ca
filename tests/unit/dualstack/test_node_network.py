"""Dual-stack on the node: the CNI conflist and the route plan take every family of a Node's
pod CIDRs as data (one range set and one default route per family; one route per peer CIDR,
against the peer's address of that family), and the IPv4-only forms are unchanged."""

from __future__ import annotations

import json
from typing import Any

from kprov.cluster.network.cni import conflist
from kprov.cluster.network.routes import node_internal_ips, node_pod_cidrs, plan_routes


def _node(name: str, ips: list[str], cidrs: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs} if cidrs else {},
        "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in ips]
                   + [{"type": "Hostname", "address": name}]},
    }


def test_a_dual_stack_conflist_has_one_range_set_and_one_default_route_per_family() -> None:
    ipam = json.loads(conflist(["10.244.1.0/24", "fd00:10:244:1::/64"]))["plugins"][0]["ipam"]
    assert ipam["ranges"] == [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:10:244:1::/64"}]]
    assert ipam["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    ipv6_first = json.loads(conflist(["fd00:10:244:1::/64", "10.244.1.0/24"]))["plugins"][0]["ipam"]
    assert ipv6_first["ranges"][0] == [{"subnet": "fd00:10:244:1::/64"}]  # the primary family first


def test_the_ipv4_conflist_is_byte_for_byte_what_a_single_cidr_gives() -> None:
    assert conflist(["10.244.3.0/24"]) == conflist("10.244.3.0/24")


def test_each_family_of_a_peer_gets_its_route_via_the_peers_address_of_that_family() -> None:
    nodes = [
        _node("h1", ["10.77.7.11", "fd77:77:7::11"], ["10.244.0.0/24", "fd00:10:244::/64"]),
        _node("h2", ["10.77.7.12", "fd77:77:7::12"], ["10.244.1.0/24", "fd00:10:244:1::/64"]),
    ]
    plan = plan_routes(nodes, "h1", ["10.77.7.11/24", "fd77:77:7::11/64"])
    assert plan.own_cidrs == ("10.244.0.0/24", "fd00:10:244::/64")
    assert plan.direct == {"10.244.1.0/24": "10.77.7.12", "fd00:10:244:1::/64": "fd77:77:7::12"}
    assert plan.vxlan == {}


def test_a_peer_off_this_segment_in_one_family_goes_over_the_ipv4_tunnel_for_that_family() -> None:
    nodes = [
        _node("h1", ["10.77.7.11", "fd77:77:7::11"], ["10.244.0.0/24", "fd00:10:244::/64"]),
        _node("far", ["10.77.7.30", "fd99::30"], ["10.244.2.0/24", "fd00:10:244:2::/64"]),
        _node("v4only", ["10.77.7.13"], ["10.244.3.0/24", "fd00:10:244:3::/64"]),
    ]
    plan = plan_routes(nodes, "h1", ["10.77.7.11/24", "fd77:77:7::11/64"])
    assert plan.direct == {"10.244.2.0/24": "10.77.7.30", "10.244.3.0/24": "10.77.7.13"}
    # the underlay is this node's primary (IPv4) address family: FDB entries name IPv4 peers
    assert plan.vxlan == {"fd00:10:244:2::/64": "10.77.7.30", "fd00:10:244:3::/64": "10.77.7.13"}


def test_node_addresses_and_cidrs_are_read_per_family() -> None:
    node = _node("h2", ["10.77.7.12", "fd77:77:7::12", "10.77.7.99"], ["10.244.1.0/24", "fd00:10:244:1::/64"])
    assert node_internal_ips(node) == {4: "10.77.7.12", 6: "fd77:77:7::12"}  # the first of each
    assert node_pod_cidrs(node) == ["10.244.1.0/24", "fd00:10:244:1::/64"]
    assert node_pod_cidrs({"spec": {"podCIDR": "10.244.9.0/24"}}) == ["10.244.9.0/24"]


def test_cidrs_are_planned_in_canonical_text_so_kernel_routes_compare_equal() -> None:
    nodes = [
        _node("h1", ["10.77.7.11", "fd77:77:7::11"], ["10.244.0.0/24", "fd00:10:244:0::/64"]),
        _node("h2", ["10.77.7.12", "fd77:77:7::12"], ["10.244.1.0/24", "fd00:10:244:0000:1::/80"]),
    ]
    plan = plan_routes(nodes, "h1", ["10.77.7.11/24", "fd77:77:7::11/64"])
    assert plan.own_cidrs == ("10.244.0.0/24", "fd00:10:244::/64")  # as `ip -j -6 route` prints it
    assert "fd00:10:244:0:1::/80" in plan.direct
