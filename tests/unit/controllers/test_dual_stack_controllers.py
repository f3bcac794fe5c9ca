"""Dual-stack in the controller manager: --cluster-cidr and the mask sizes per family (the
node IPAM controller's rules), EndpointSlices per family, Endpoints in the primary one."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.controllers.network.endpoints import build_subsets
from kprov.cluster.controllers.network.endpointslice import desired_slices
from kprov.cluster.controllers.network.nodeipam import CidrAllocator, cluster_cidrs, node_mask_sizes
from kprov.cluster.controllers.network.service_pods import service_address_families


def test_cluster_cidr_one_or_two_families() -> None:
    assert [n.version for n in cluster_cidrs("10.244.0.0/16,fd00:10:244::/56")] == [4, 6]
    assert [n.version for n in cluster_cidrs("fd00:10:244::/56")] == [6]
    with pytest.raises(ValueError, match="not configured as dual stack"):
        cluster_cidrs("10.244.0.0/16,10.245.0.0/16")
    with pytest.raises(ValueError, match="more than max allowed of 2"):
        cluster_cidrs("10.244.0.0/16,fd00::/56,fd01::/56")


@pytest.mark.parametrize(("versions", "flags", "sizes"), [
    ([4], (0, 0, 0), [24]),
    ([6], (0, 0, 0), [64]),
    ([4, 6], (0, 0, 0), [24, 64]),
    ([6, 4], (0, 26, 120), [120, 26]),
    ([4], (20, 0, 0), [20]),
    ([4], (0, 28, 0), [28]),
])
def test_node_mask_sizes(versions: list[int], flags: tuple[int, int, int], sizes: list[int]) -> None:
    assert node_mask_sizes(versions, *flags) == sizes


@pytest.mark.parametrize(("versions", "flags", "message"), [
    ([4, 6], (24, 0, 0), "usage of --node-cidr-mask-size is not allowed with dual-stack clusters"),
    ([4], (24, 25, 0), "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed"),
    ([4], (0, 0, 64), "usage of --node-cidr-mask-size-ipv6 is not allowed for a single-stack IPv4 cluster"),
    ([6], (0, 24, 0), "usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster"),
])
def test_node_mask_size_refusals(versions: list[int], flags: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError) as info:
        node_mask_sizes(versions, *flags)
    assert str(info.value).startswith(message)


def test_ipv6_node_ranges_are_64s_lowest_first() -> None:
    alloc = CidrAllocator("fd00:10:244::/56", 64)
    assert [alloc.allocate(), alloc.allocate()] == ["fd00:10:244::/64", "fd00:10:244:1::/64"]


def _pod(name: str, *ips: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "d", "uid": name, "labels": {"app": "a"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
        "status": {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips], "phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _service(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "s", "namespace": "d"},
            "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def test_slices_per_family_endpoints_primary_only() -> None:
    pods = [_pod("p1", "10.244.1.5", "fd00:10:244:1::5"), _pod("p2", "10.244.2.7")]
    svc = _service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10", "fd00:10:96::a"],
                   ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")
    assert service_address_families(svc) == ["IPv4", "IPv6"]
    v4 = desired_slices(svc, pods, "IPv4")
    v6 = desired_slices(svc, pods, "IPv6")
    assert [e["addresses"] for eps in v4.values() for e in eps] == [["10.244.1.5"], ["10.244.2.7"]]
    assert [e["addresses"] for eps in v6.values() for e in eps] == [["fd00:10:244:1::5"]]
    subsets = build_subsets(svc, pods)
    assert [a["ip"] for s in subsets for a in s["addresses"]] == ["10.244.1.5", "10.244.2.7"]


def test_ipv6_primary_service_endpoints_are_ipv6() -> None:
    pods = [_pod("p1", "10.244.1.5", "fd00:10:244:1::5")]
    svc = _service(clusterIP="fd00:10:96::a", clusterIPs=["fd00:10:96::a"], ipFamilies=["IPv6"])
    assert [a["ip"] for s in build_subsets(svc, pods) for a in s["addresses"]] == ["fd00:10:244:1::5"]
    assert list(desired_slices(svc, pods, "IPv6").values())[0][0]["addresses"] == ["fd00:10:244:1::5"]


def test_families_of_services_from_before_defaulting() -> None:
    assert service_address_families(_service(clusterIP="10.96.0.1")) == ["IPv4"]
    assert service_address_families(_service(clusterIP="None")) == ["IPv4", "IPv6"]
