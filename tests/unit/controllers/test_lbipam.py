"""LoadBalancer address allocation: pools, requested addresses, sharing, exhaustion, fallback."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kprov.cluster.controllers.base import ControllerContext, ControllerOptions
from kprov.cluster.controllers.network.lbipam import (
    AddressAllocator,
    AllocationError,
    LoadBalancerIpamController,
    parse_pools,
    requested_ips,
    sharing_key,
    wants_address,
)

TCP80 = frozenset({("tcp", 80)})
TCP443 = frozenset({("tcp", 443)})


def test_pools_parse_cidrs_without_network_and_broadcast_and_ranges_inclusive() -> None:
    pools = parse_pools("10.77.3.200/30, 10.77.3.240-10.77.3.241")
    assert [(str(a), str(b)) for a, b in pools] == [
        ("10.77.3.201", "10.77.3.202"),
        ("10.77.3.240", "10.77.3.241"),
    ]
    assert parse_pools("") == []
    with pytest.raises(ValueError):
        parse_pools("10.77.3.9-10.77.3.1")


def test_allocation_takes_the_lowest_free_address_and_keeps_it() -> None:
    alloc = AddressAllocator(parse_pools("10.77.3.240-10.77.3.241"))
    assert alloc.assign("default/a", [], "", TCP80) == "10.77.3.240"
    assert alloc.assign("default/b", [], "", TCP80) == "10.77.3.241"
    assert alloc.assign("default/a", [], "", TCP80) == "10.77.3.240"


def test_exhausted_pool_raises_and_a_release_frees_the_address() -> None:
    alloc = AddressAllocator(parse_pools("10.77.3.240-10.77.3.240"))
    alloc.assign("default/a", [], "", TCP80)
    with pytest.raises(AllocationError, match="no available IPs"):
        alloc.assign("default/b", [], "", TCP80)
    assert alloc.release("default/a")
    assert alloc.assign("default/b", [], "", TCP80) == "10.77.3.240"


def test_requested_address_must_be_in_a_pool_and_free() -> None:
    alloc = AddressAllocator(parse_pools("10.77.3.240/29"))
    assert alloc.assign("default/a", ["10.77.3.245"], "", TCP80) == "10.77.3.245"
    with pytest.raises(AllocationError, match="not in any address pool"):
        alloc.assign("default/b", ["10.77.3.100"], "", TCP80)
    with pytest.raises(AllocationError, match="already in use by default/a"):
        alloc.assign("default/b", ["10.77.3.245"], "", TCP443)
    assert alloc.assign("default/b", ["10.77.3.245", "10.77.3.246"], "", TCP80) == "10.77.3.246"


def test_sharing_key_shares_an_address_unless_ports_clash() -> None:
    alloc = AddressAllocator(parse_pools("10.77.3.240/29"))
    first = alloc.assign("default/http", [], "web", TCP80)
    assert alloc.assign("default/https", [], "web", TCP443) == first
    assert alloc.assign("default/other", [], "", TCP443) != first  # no key: never shared
    with pytest.raises(AllocationError, match="clashes: 80/TCP"):
        alloc.assign("default/again", [first], "web", TCP80)
    assert alloc.assign("default/again", [], "web", TCP80) != first


def test_annotations_and_spec_choose_the_request() -> None:
    svc: dict[str, Any] = {"metadata": {}, "spec": {"type": "LoadBalancer", "loadBalancerIP": "10.0.0.1"}}
    assert requested_ips(svc) == ["10.0.0.1"]
    svc["metadata"]["annotations"] = {"metallb.universe.tf/loadBalancerIPs": "10.0.0.2, 10.0.0.3"}
    assert requested_ips(svc) == ["10.0.0.2", "10.0.0.3"]
    svc["metadata"]["annotations"]["kprov.io/loadbalancer-ips"] = "10.0.0.4"
    assert requested_ips(svc) == ["10.0.0.4"]
    svc["metadata"]["annotations"]["metallb.universe.tf/allow-shared-ip"] = "k"
    assert sharing_key(svc) == "k"
    assert wants_address(svc)
    svc["spec"]["loadBalancerClass"] = "example.com/other"
    assert not wants_address(svc)
    svc["spec"]["loadBalancerClass"] = "kprov.io/loadbalancer"
    assert wants_address(svc)
    assert not wants_address({"spec": {"type": "NodePort"}})


# --- the reconciler, over fake informers, client and recorder ---------------------------


class _Store:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.items.get(key)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.items.values()))


class _Informer:
    def __init__(self) -> None:
        self.store = _Store()
        self.has_synced = asyncio.Event()
        self.has_synced.set()

    def add_handler(self, handler: object) -> None:
        pass


class _Informers:
    def __init__(self) -> None:
        self.by_name: dict[str, _Informer] = {}

    def get(self, resource: Any, indexers: object = None) -> _Informer:
        return self.by_name.setdefault(resource.plural, _Informer())


class _Client:
    def __init__(self, informers: _Informers) -> None:
        self.informers = informers

    async def update_status(self, resource: Any, obj: dict[str, Any]) -> dict[str, Any]:
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        self.informers.by_name["services"].store.items[key] = copy.deepcopy(obj)
        return obj


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


def _controller(pools: str) -> tuple[LoadBalancerIpamController, _Informers, _Recorder]:
    informers, recorder = _Informers(), _Recorder()
    ctx = ControllerContext(
        _Client(informers),  # type: ignore[arg-type]
        informers,  # type: ignore[arg-type]
        recorder,  # type: ignore[arg-type]
        ControllerOptions(loadbalancer_address_pools=pools),
    )
    return LoadBalancerIpamController(ctx), informers, recorder


def _lb(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "default", "name": name},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}], **spec},
    }


def _ingress(informers: _Informers, key: str) -> list[dict[str, Any]]:
    svc = informers.by_name["services"].store.items[key]
    return list(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])


def test_reconcile_writes_status_then_leaves_the_next_one_pending_with_an_event() -> None:
    ctl, informers, recorder = _controller("10.77.3.240-10.77.3.240")
    services = informers.by_name["services"].store.items
    services["default/a"], services["default/b"] = _lb("a"), _lb("b")
    asyncio.run(ctl.reconcile("default/a"))
    asyncio.run(ctl.reconcile("default/b"))
    assert _ingress(informers, "default/a") == [{"ip": "10.77.3.240", "ipMode": "VIP"}]
    assert _ingress(informers, "default/b") == []
    assert recorder.events[0] == ("Normal", "IPAllocated", 'Assigned IP ["10.77.3.240"]')
    assert recorder.events[1][:2] == ("Warning", "AllocationFailed")
    services["default/a"]["spec"]["type"] = "ClusterIP"  # a type change releases the address
    asyncio.run(ctl.reconcile("default/a"))
    assert _ingress(informers, "default/a") == []
    assert len(ctl.queue) == 1  # the pending Service is retried
    asyncio.run(ctl.reconcile("default/b"))
    assert _ingress(informers, "default/b") == [{"ip": "10.77.3.240", "ipMode": "VIP"}]


def test_without_pools_the_ready_nodes_addresses_are_used_and_an_event_says_so() -> None:
    ctl, informers, recorder = _controller("")
    informers.by_name["services"].store.items["default/a"] = _lb("a")
    nodes = informers.by_name["nodes"].store.items
    states = (("n1", "10.77.3.12", "True"), ("n2", "10.77.3.11", "True"), ("n3", "10.77.3.13", "False"))
    for name, ip, ready in states:
        nodes[name] = {
            "metadata": {"name": name},
            "status": {
                "conditions": [{"type": "Ready", "status": ready}],
                "addresses": [{"type": "InternalIP", "address": ip}],
            },
        }
    asyncio.run(ctl.reconcile("default/a"))
    assert [e["ip"] for e in _ingress(informers, "default/a")] == ["10.77.3.11", "10.77.3.12"]
    assert recorder.events[0][:2] == ("Normal", "NodeAddressesAssigned")
    assert "No loadbalancer_address_pools configured" in recorder.events[0][2]
    informers.by_name["services"].store.items["default/a"]["spec"]["type"] = "NodePort"
    asyncio.run(ctl.reconcile("default/a"))
    assert _ingress(informers, "default/a") == []


DUAL_POOLS = "10.77.3.240-10.77.3.241,fd77:77:3::200/126"


def test_each_family_of_the_service_gets_an_address_from_its_own_pool_primary_first() -> None:
    ctl, informers, recorder = _controller(DUAL_POOLS)
    services = informers.by_name["services"].store.items
    services["default/v6"] = _lb("v6", ipFamilies=["IPv6"])
    services["default/dual"] = _lb("dual", ipFamilies=["IPv6", "IPv4"])
    services["default/v4"] = _lb("v4", ipFamilies=["IPv4"])
    for key in ("default/v6", "default/dual", "default/v4"):
        asyncio.run(ctl.reconcile(key))
    assert [e["ip"] for e in _ingress(informers, "default/v6")] == ["fd77:77:3::200"]
    assert [e["ip"] for e in _ingress(informers, "default/dual")] == ["fd77:77:3::201", "10.77.3.240"]
    assert [e["ip"] for e in _ingress(informers, "default/v4")] == ["10.77.3.241"]
    assert recorder.events[1] == ("Normal", "IPAllocated", 'Assigned IP ["fd77:77:3::201" "10.77.3.240"]')


def test_no_pool_of_the_services_family_fails_and_a_requested_foreign_family_is_refused() -> None:
    ctl, informers, recorder = _controller("10.77.3.240-10.77.3.241")
    services = informers.by_name["services"].store.items
    services["default/v6"] = _lb("v6", ipFamilies=["IPv6"])
    asyncio.run(ctl.reconcile("default/v6"))
    assert _ingress(informers, "default/v6") == []
    assert recorder.events[-1][:2] == ("Warning", "AllocationFailed")
    assert "no address pool of the service's IP families (IPv6)" in recorder.events[-1][2]
    ctl, informers, recorder = _controller(DUAL_POOLS)
    services = informers.by_name["services"].store.items
    services["default/a"] = _lb("a", ipFamilies=["IPv4"], loadBalancerIP="fd77:77:3::202")
    asyncio.run(ctl.reconcile("default/a"))
    assert "fd77:77:3::202 is not of the service's IP families" in recorder.events[-1][2]


def test_a_dual_stack_allocation_is_all_or_none_and_survives_a_restart() -> None:
    ctl, informers, _ = _controller("10.77.3.240-10.77.3.240,fd77:77:3::200/127")
    services = informers.by_name["services"].store.items
    services["default/a"] = _lb("a", ipFamilies=["IPv4"])
    services["default/b"] = _lb("b", ipFamilies=["IPv4", "IPv6"])
    asyncio.run(ctl.reconcile("default/a"))
    asyncio.run(ctl.reconcile("default/b"))  # no IPv4 left: b holds no IPv6 address either
    assert _ingress(informers, "default/b") == []
    assert ctl.allocator.holds("default/b") == []
    services["default/c"] = _lb("c", ipFamilies=["IPv6"])
    asyncio.run(ctl.reconcile("default/c"))
    assert [e["ip"] for e in _ingress(informers, "default/c")] == ["fd77:77:3::200"]
    restarted, again, _ = _controller("10.77.3.240-10.77.3.240,fd77:77:3::200/127")
    again.by_name["services"].store.items.update(copy.deepcopy(services))
    restarted.setup()
    for svc in list(again.by_name["services"].store.items.values()):
        restarted._seen(svc)
    assert restarted.allocator.holds("default/c") == ["fd77:77:3::200"]
