"""Dual-stack Services: family defaulting, refusals in kube-apiserver's words, and the
allocators of both ranges (creates, upgrades, downgrades, releases) over a fake store."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from kprov.cluster.api.errors import InvalidError
from kprov.cluster.api.service_families import (
    init_ip_family_fields,
    service_cidrs,
    validate_cluster_ips_related,
)
from kprov.cluster.apiserver.allocators import Allocators
from tests.unit.apiserver.test_lb_node_ports import _Cache, _Store

DUAL = "10.96.0.0/24,fd00:10:96::/112"


def _allocators(ranges: str = DUAL) -> tuple[Allocators, _Store]:
    store = _Store()
    return Allocators(store, _Cache(store), ranges, (30000, 30100)), store  # type: ignore[arg-type]


def _svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}, **spec}}


def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


@pytest.mark.parametrize(("flag", "message"), [
    ("10.0.0.0/24,10.1.0.0/24",
     "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family"),
    ("10.0.0.0/24,fd00::/112,10.1.0.0/24", "--service-cluster-ip-range must not contain more than two entries"),  # noqa: E501
    ("nonsense", "service-cluster-ip-range[0] is not a valid cidr"),
    ("10.0.0.0/24,nonsense", "service-cluster-ip-range[1] is not an ip net"),
    ("10.0.0.0/24,fd00::/64",
     "specified --service-cluster-ip-range[1] is too large; for 128-bit addresses, the mask must be >= 108"),
    ("10.0.0.0/8", "specified --service-cluster-ip-range is too large; for 32-bit addresses, the mask must be >= 12"),  # noqa: E501
])
def test_service_cidr_flag_refusals(flag: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        service_cidrs(flag)
    assert str(info.value) == message


def test_service_cidr_flag_orders_families_as_given() -> None:
    assert [n.version for n in service_cidrs("fd00:10:96::/112,10.96.0.0/12")] == [6, 4]
    assert [n.version for n in service_cidrs("10.96.0.0/12")] == [4]


def test_single_stack_default_is_unchanged() -> None:
    allocators, _ = _allocators("10.96.0.0/24")
    svc = _svc()
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    spec = svc["spec"]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["clusterIPs"] == [spec["clusterIP"]] and _family(spec["clusterIP"]) == 4


def test_require_dual_stack_refused_on_a_single_stack_cluster() -> None:
    allocators, store = _allocators("10.96.0.0/24")
    with pytest.raises(InvalidError) as info:
        asyncio.run(allocators.allocate_service(_svc(ipFamilyPolicy="RequireDualStack"), dry_run=False))
    assert str(info.value) == ('Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: '
                               '"RequireDualStack": this cluster is not configured for dual-stack services')
    assert not store.keys  # nothing claimed


def test_prefer_dual_stack_on_single_stack_gets_one_family() -> None:
    allocators, _ = _allocators("10.96.0.0/24")
    svc = _svc(ipFamilyPolicy="PreferDualStack")
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    assert svc["spec"]["ipFamilies"] == ["IPv4"] and len(svc["spec"]["clusterIPs"]) == 1


@pytest.mark.parametrize("policy", ["PreferDualStack", "RequireDualStack"])
def test_dual_stack_service_gets_an_address_of_each_family(policy: str) -> None:
    allocators, store = _allocators()
    svc = _svc(ipFamilyPolicy=policy)
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    spec = svc["spec"]
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]
    assert [_family(ip) for ip in spec["clusterIPs"]] == [4, 6] and spec["clusterIP"] == spec["clusterIPs"][0]
    assert ipaddress.ip_address(spec["clusterIPs"][1]) in ipaddress.ip_network("fd00:10:96::/112")
    assert len(store.keys) == 2
    asyncio.run(allocators.release_service(svc))
    assert not store.keys


def test_ipv6_first_families_order_the_addresses() -> None:
    allocators, _ = _allocators()
    svc = _svc(ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6"])
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    assert svc["spec"]["ipFamilies"] == ["IPv6", "IPv4"]
    assert [_family(ip) for ip in svc["spec"]["clusterIPs"]] == [6, 4]


def test_family_inferred_from_an_asked_address_and_checked_against_the_cluster() -> None:
    allocators, _ = _allocators()
    svc = _svc(clusterIP="fd00:10:96::10", clusterIPs=["fd00:10:96::10"])
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    assert svc["spec"]["ipFamilies"] == ["IPv6"] and svc["spec"]["clusterIP"] == "fd00:10:96::10"
    single, _ = _allocators("10.96.0.0/24")
    with pytest.raises(InvalidError) as info:
        asyncio.run(single.allocate_service(_svc(clusterIP="fd00::10", clusterIPs=["fd00::10"]), dry_run=False))  # noqa: E501
    assert 'spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster' in str(info.value)  # noqa: E501


def test_family_not_configured() -> None:
    spec: dict[str, Any] = {"ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack", "selector": {"a": "b"}}
    causes = init_ip_family_fields(spec, None, ("IPv4",))
    assert [str(c) for c in causes] == ['spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster']  # noqa: E501


def test_single_stack_with_two_families_is_refused() -> None:
    spec: dict[str, Any] = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "SingleStack", "selector": {"a": "b"}}  # noqa: E501
    causes = init_ip_family_fields(spec, None, ("IPv4", "IPv6"))
    assert [str(c) for c in causes] == [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' "  # noqa: E501
        "when multiple IP families are specified"]


def test_headless_selectorless_defaults_to_require_dual_stack_even_on_single_stack() -> None:
    spec: dict[str, Any] = {"clusterIP": "None", "clusterIPs": ["None"]}
    assert init_ip_family_fields(spec, None, ("IPv4",)) == []
    assert spec["ipFamilyPolicy"] == "RequireDualStack" and spec["ipFamilies"] == ["IPv4", "IPv6"]


def test_external_name_is_left_alone() -> None:
    spec: dict[str, Any] = {"type": "ExternalName", "externalName": "example.com"}
    assert init_ip_family_fields(spec, None, ("IPv4", "IPv6")) == []
    assert "ipFamilies" not in spec and "ipFamilyPolicy" not in spec


@pytest.mark.parametrize(("spec", "message"), [
    ({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]},
     'spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: first value must match `clusterIP`'),
    ({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "10.0.0.2"], "ipFamilyPolicy": "PreferDualStack"},
     'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "10.0.0.2"}: may specify no more than one IP for each IP family'),  # noqa: E501
    ({"clusterIP": "None", "clusterIPs": ["None", "fd00::1"]},
     "spec.clusterIPs: Invalid value: []string{\"None\", \"fd00::1\"}: 'None' must be the first and only value"),  # noqa: E501
    ({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack"},  # noqa: E501
     'spec.clusterIPs[0]: Invalid value: "10.0.0.1": expected an IPv6 value as indicated by `ipFamilies[0]`'),
    ({"ipFamilyPolicy": "Sometimes"},
     'spec.ipFamilyPolicy: Unsupported value: "Sometimes": supported values: '
     '"PreferDualStack", "RequireDualStack", "SingleStack"'),
])
def test_cluster_ip_field_validation(spec: dict[str, Any], message: str) -> None:
    assert message in [str(c) for c in validate_cluster_ips_related(spec)]


def _dual_service(allocators: Allocators) -> dict[str, Any]:
    svc = _svc(ipFamilyPolicy="RequireDualStack")
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    return svc


def test_downgrade_needs_single_stack_and_releases_the_secondary() -> None:
    allocators, store = _allocators()
    old = _dual_service(allocators)
    cut = _svc(ipFamilyPolicy="RequireDualStack", clusterIP=old["spec"]["clusterIP"],
               clusterIPs=old["spec"]["clusterIPs"][:1], ipFamilies=["IPv4"])
    with pytest.raises(InvalidError) as info:
        asyncio.run(allocators.update_service(old, cut, dry_run=False))
    assert "must be 'SingleStack' to release the secondary cluster IP" in str(info.value)
    down = _svc(ipFamilyPolicy="SingleStack", clusterIP=old["spec"]["clusterIP"],
                clusterIPs=old["spec"]["clusterIPs"], ipFamilies=old["spec"]["ipFamilies"])
    asyncio.run(allocators.update_service(old, down, dry_run=False))
    assert down["spec"]["clusterIPs"] == old["spec"]["clusterIPs"][:1] and down["spec"]["ipFamilies"] == ["IPv4"]  # noqa: E501
    assert len(store.keys) == 1


def test_upgrade_allocates_the_secondary_and_keeps_the_primary() -> None:
    allocators, store = _allocators()
    old = _svc()
    asyncio.run(allocators.allocate_service(old, dry_run=False))
    up = _svc(ipFamilyPolicy="PreferDualStack", clusterIP=old["spec"]["clusterIP"],
              clusterIPs=old["spec"]["clusterIPs"], ipFamilies=["IPv4"])
    asyncio.run(allocators.update_service(old, up, dry_run=False))
    assert up["spec"]["clusterIPs"][0] == old["spec"]["clusterIP"]
    assert [_family(ip) for ip in up["spec"]["clusterIPs"]] == [4, 6] and len(store.keys) == 2


def test_primary_address_may_not_change() -> None:
    allocators, _ = _allocators()
    old = _dual_service(allocators)
    # another address than the one allocated at random (1 in 254 runs it was 10.96.0.200)
    other = "10.96.0.201" if old["spec"]["clusterIP"] == "10.96.0.200" else "10.96.0.200"
    moved = _svc(ipFamilyPolicy="RequireDualStack", clusterIP=other,
                 clusterIPs=[other, old["spec"]["clusterIPs"][1]])
    with pytest.raises(InvalidError) as info:
        asyncio.run(allocators.update_service(old, moved, dry_run=False))
    assert f"spec.clusterIPs[0]: Invalid value: []string{{\"{other}\", " in str(info.value)
    assert "may not change once set" in str(info.value)


def test_prefer_dual_stack_is_not_upgraded_when_the_cluster_becomes_dual_stack() -> None:
    single, _ = _allocators("10.96.0.0/24")
    old = _svc(ipFamilyPolicy="PreferDualStack")
    asyncio.run(single.allocate_service(old, dry_run=False))
    dual, _ = _allocators()
    same = _svc(**old["spec"])
    asyncio.run(dual.update_service(old, same, dry_run=False))
    assert same["spec"]["ipFamilies"] == ["IPv4"] and len(same["spec"]["clusterIPs"]) == 1


def test_to_external_name_releases_both() -> None:
    allocators, store = _allocators()
    old = _dual_service(allocators)
    ext = {"metadata": old["metadata"], "spec": {"type": "ExternalName", "externalName": "example.com"}}
    asyncio.run(allocators.update_service(old, ext, dry_run=False))
    assert not store.keys


def test_a_changed_cluster_ip_is_judged_as_upstream() -> None:
    allocators, _ = _allocators("10.96.0.0/24")
    old = _svc()
    asyncio.run(allocators.allocate_service(old, dry_run=False))
    moved = _svc(clusterIP="10.96.0.6", clusterIPs=old["spec"]["clusterIPs"])  # kubectl edit of clusterIP
    with pytest.raises(InvalidError) as info:
        asyncio.run(allocators.update_service(old, moved, dry_run=False))
    assert str(info.value) == ('Service "web" is invalid: spec.clusterIPs[0]: Invalid value: '
                               '[]string{"10.96.0.6"}: may not change once set')


def test_external_name_refuses_address_fields() -> None:
    from kprov.cluster.api.resources import REGISTRY
    from kprov.cluster.api.validation.core import validate

    svc = {"metadata": {"namespace": "d", "name": "ext"},
           "spec": {"type": "ExternalName", "externalName": "example.com", "clusterIP": "10.96.0.9",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}}
    assert [str(c) for c in validate(REGISTRY.get("", "v1", "services"), svc)] == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
    ]
