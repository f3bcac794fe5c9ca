"""allocateLoadBalancerNodePorts: false leaves ports without a nodePort unless one is asked for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from kprov.cluster.api.errors import InvalidError
from kprov.cluster.apiserver.allocators import Allocators
from kprov.cluster.storage import KeyExistsError


class _Store:
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    async def create(self, key: str, obj: dict[str, Any]) -> None:
        if key in self.keys:
            raise KeyExistsError(key)
        self.keys[key] = obj

    async def get(self, key: str) -> SimpleNamespace | None:
        return SimpleNamespace(revision=1) if key in self.keys else None

    async def delete(self, key: str, revision: int) -> None:
        del self.keys[key]


class _Cache:
    def __init__(self, store: _Store) -> None:
        self.store = store

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        return [o for k, o in self.store.keys.items() if k.startswith(prefix)]


def _allocators() -> Allocators:
    store = _Store()
    return Allocators(store, _Cache(store), "10.96.0.0/24", (30000, 30100))  # type: ignore[arg-type]


def _lb(**spec: Any) -> dict[str, Any]:
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30050}]
    return {"metadata": {"namespace": "default", "name": "web"},
            "spec": {"type": "LoadBalancer", "ports": ports, **spec}}


def test_load_balancer_gets_node_ports_by_default() -> None:
    svc = _lb()
    asyncio.run(_allocators().allocate_service(svc, dry_run=False))
    assert all(p.get("nodePort") for p in svc["spec"]["ports"])


def test_allocate_load_balancer_node_ports_false_keeps_only_those_asked_for() -> None:
    allocators = _allocators()
    svc = _lb(allocateLoadBalancerNodePorts=False)
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    assert [p.get("nodePort") for p in svc["spec"]["ports"]] == [None, 30050]
    new = _lb(allocateLoadBalancerNodePorts=False)
    asyncio.run(allocators.update_service(svc, new, dry_run=False))
    assert [p.get("nodePort") for p in new["spec"]["ports"]] == [None, 30050]


def test_health_check_node_port_follows_external_traffic_policy_local() -> None:
    allocators = _allocators()
    svc = _lb(externalTrafficPolicy="Local")
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    check = svc["spec"]["healthCheckNodePort"]
    assert 30000 <= check <= 30100 and check not in [p["nodePort"] for p in svc["spec"]["ports"]]
    kept = _lb(externalTrafficPolicy="Local", ports=svc["spec"]["ports"])
    asyncio.run(allocators.update_service(svc, kept, dry_run=False))
    assert kept["spec"]["healthCheckNodePort"] == check
    cluster = _lb(externalTrafficPolicy="Cluster", ports=svc["spec"]["ports"], healthCheckNodePort=check)
    asyncio.run(allocators.update_service(kept, cluster, dry_run=False))
    assert "healthCheckNodePort" not in cluster["spec"]
    assert f"/registry/portallocations/{check}" not in allocators._store.keys  # type: ignore[attr-defined]


def test_a_port_asked_for_is_claimed_before_any_is_picked_at_random() -> None:
    """With a one-port range left, a random pick made first would take the asked-for port
    and the Service would fail against itself ("provided port is already allocated")."""
    store = _Store()
    allocators = Allocators(store, _Cache(store), "10.96.0.0/24", (30050, 30051))  # type: ignore[arg-type]
    svc = _lb()  # port a: any; port b: 30050
    asyncio.run(allocators.allocate_service(svc, dry_run=False))
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == [30051, 30050]
    moved = _lb(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30051}])
    other = Allocators(store := _Store(), _Cache(store), "10.96.0.0/24", (30050, 30051))  # type: ignore[arg-type]
    asyncio.run(other.update_service({"spec": {"type": "ClusterIP"}}, moved, dry_run=False))
    assert [p["nodePort"] for p in moved["spec"]["ports"]] == [30050, 30051]


def test_a_taken_port_names_its_own_field() -> None:
    allocators = _allocators()
    first = _lb(ports=[{"name": "b", "port": 81, "nodePort": 30050}])
    asyncio.run(allocators.allocate_service(first, dry_run=False))
    again = _lb(ports=[{"name": "a", "port": 80, "nodePort": 30099},
                       {"name": "b", "port": 81, "nodePort": 30050}])
    again["metadata"]["name"] = "web2"
    try:
        asyncio.run(allocators.allocate_service(again, dry_run=False))
    except InvalidError as exc:
        assert [c.field for c in exc.causes] == ["spec.ports[1].nodePort"], exc.causes
    else:
        raise AssertionError("30050 was given twice")
