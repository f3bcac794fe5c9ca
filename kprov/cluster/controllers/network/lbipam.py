"""LoadBalancer address allocation (MetalLB's controller, k3s ServiceLB's fallback).

Services of type LoadBalancer without ``spec.loadBalancerClass`` (or with
:data:`LOADBALANCER_CLASS`) get an address from the pools given by
``--loadbalancer-address-pools`` (CIDRs or ``first-last`` ranges, comma-separated) and
have it written to ``status.loadBalancer.ingress[].ip`` with ``ipMode: VIP``.

- a requested address comes from the :data:`IPS_ANNOTATION` annotation (or MetalLB's
  ``metallb.universe.tf/loadBalancerIPs``, comma-separated), else ``spec.loadBalancerIP``;
  it must lie in a pool and be free (or shareable);
- Services with the same :data:`SHARING_ANNOTATION` (or MetalLB's
  ``metallb.universe.tf/allow-shared-ip``) value share one address when no
  protocol/port pair clashes;
- an exhausted pool or an unusable request leaves the Service pending with a Warning
  ``AllocationFailed`` Event; it is retried when any address is released;
- a change of type (or class) or a deletion releases the address;
- address families as MetalLB: one address per family of ``spec.ipFamilies`` that has a
  pool (a dual-stack Service gets an IPv4 and an IPv6 one, primary first; an IPv6 Service
  an IPv6 one), each from its own family's pools (:class:`FamilyAllocator`); a requested
  address must be of one of the Service's families, and with requests only the requested
  families are given one.

Without any pool, the ingress addresses are the InternalIPs of the ready nodes, as k3s's
ServiceLB does, and a Normal ``NodeAddressesAssigned`` Event says so.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import NODES, SERVICES
from kprov.cluster.client.store import object_key
from kprov.cluster.controllers.base import Controller, ControllerContext, Obj

__all__ = [
    "AddressAllocator",
    "AllocationError",
    "FamilyAllocator",
    "IPS_ANNOTATION",
    "LOADBALANCER_CLASS",
    "LoadBalancerIpamController",
    "SHARING_ANNOTATION",
    "parse_pools",
    "requested_ips",
    "service_ports",
    "sharing_key",
    "wants_address",
]

log = logging.getLogger(__name__)

LOADBALANCER_CLASS = "kprov.io/loadbalancer"
IPS_ANNOTATION = "kprov.io/loadbalancer-ips"
SHARING_ANNOTATION = "kprov.io/allow-shared-ip"
METALLB_IPS_ANNOTATION = "metallb.universe.tf/loadBalancerIPs"
METALLB_SHARING_ANNOTATION = "metallb.universe.tf/allow-shared-ip"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
PortSet = frozenset[tuple[str, int]]


class AllocationError(Exception):
    """Why a Service got no address (the Event's message)."""


def _pool_addresses(text: str) -> tuple[Address, Address]:
    if "-" in text:
        first_text, last_text = (part.strip() for part in text.split("-", 1))
        first, last = ipaddress.ip_address(first_text), ipaddress.ip_address(last_text)
        if first.version != last.version or int(first) > int(last):
            raise ValueError(f"address pool {text!r}: not a range of one family, low to high")
        return first, last
    network = ipaddress.ip_network(text, strict=False)
    if network.version == 4 and network.prefixlen < 31:
        return network.network_address + 1, network.broadcast_address - 1
    return network.network_address, network.broadcast_address


def parse_pools(text: str) -> list[tuple[Address, Address]]:
    """``10.77.3.200/29,10.77.3.240-10.77.3.250`` → inclusive (first, last) ranges."""
    return [_pool_addresses(part.strip()) for part in text.split(",") if part.strip()]


@dataclass
class _Holder:
    sharing_key: str
    ports: PortSet


@dataclass
class AddressAllocator:
    """Which Service holds which pool address; pure bookkeeping, no API calls."""

    pools: list[tuple[Address, Address]]
    holders: dict[str, dict[str, _Holder]] = field(default_factory=dict)  # ip -> svc key -> holder

    def in_pool(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(
            first.version == address.version and int(first) <= int(address) <= int(last)
            for first, last in self.pools
        )

    def _candidates(self) -> Iterator[str]:
        for first, last in self.pools:
            for number in range(int(first), int(last) + 1):
                yield str(type(first)(number))

    def holds(self, service: str) -> str:
        return next((ip for ip, owners in self.holders.items() if service in owners), "")

    def _usable(self, ip: str, service: str, key: str, ports: PortSet) -> str:
        """Empty when ``service`` may take ``ip``, else the reason it may not."""
        others = {name: h for name, h in self.holders.get(ip, {}).items() if name != service}
        if not others:
            return ""
        if not key or any(h.sharing_key != key for h in others.values()):
            return f"{ip} is already in use by {', '.join(sorted(others))}"
        clash = sorted(f"{port}/{proto.upper()}" for h in others.values() for proto, port in h.ports & ports)
        if clash:
            holders = ", ".join(sorted(others))
            return f"{ip} is shared by {holders} with a port that clashes: {', '.join(clash)}"
        return ""

    def occupy(self, service: str, ip: str, key: str, ports: PortSet) -> None:
        self.release(service)
        self.holders.setdefault(ip, {})[service] = _Holder(key, ports)

    def release(self, service: str) -> bool:
        released = False
        for ip in [ip for ip, owners in self.holders.items() if service in owners]:
            del self.holders[ip][service]
            released = True
            if not self.holders[ip]:
                del self.holders[ip]
        return released

    def assign(self, service: str, requested: list[str], key: str, ports: PortSet) -> str:
        """The address ``service`` should have; raises :class:`AllocationError` when none."""
        current = self.holds(service)
        if requested:
            for ip in requested:
                if not self.in_pool(ip):
                    raise AllocationError(f"requested address {ip} is not in any address pool")
                if current == ip and not self._usable(ip, service, key, ports):
                    self.occupy(service, ip, key, ports)
                    return ip
            problems = [p for p in (self._usable(ip, service, key, ports) for ip in requested) if p]
            if len(problems) == len(requested):
                raise AllocationError(f"requested address unavailable: {'; '.join(problems)}")
            ip = next(ip for ip in requested if not self._usable(ip, service, key, ports))
            self.occupy(service, ip, key, ports)
            return ip
        if current and self.in_pool(current) and not self._usable(current, service, key, ports):
            self.occupy(service, current, key, ports)
            return current
        if key:  # join a Service with the same sharing key first, as MetalLB does
            for ip, owners in self.holders.items():
                sharers = [h for name, h in owners.items() if name != service and h.sharing_key == key]
                if sharers and not self._usable(ip, service, key, ports):
                    self.occupy(service, ip, key, ports)
                    return ip
        for ip in self._candidates():
            if ip not in self.holders:
                self.occupy(service, ip, key, ports)
                return ip
        raise AllocationError("no available IPs in the address pools")


def _version(ip: str) -> int:
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return 0


def service_families(svc: Obj) -> list[int]:
    """``spec.ipFamilies`` as versions, primary first (IPv4 when the field is missing)."""
    listed = (svc.get("spec") or {}).get("ipFamilies") or []
    return [6 if family == "IPv6" else 4 for family in listed] or [4]


@dataclass
class FamilyAllocator:
    """One :class:`AddressAllocator` per address family; a Service holds one address of each
    family it is given."""

    by_family: dict[int, AddressAllocator]

    @classmethod
    def of(cls, pools: list[tuple[Address, Address]]) -> FamilyAllocator:
        return cls({v: AddressAllocator([p for p in pools if p[0].version == v]) for v in (4, 6)})

    @property
    def pools(self) -> list[tuple[Address, Address]]:
        return [pool for allocator in self.by_family.values() for pool in allocator.pools]

    def in_pool(self, ip: str) -> bool:
        allocator = self.by_family.get(_version(ip))
        return allocator is not None and allocator.in_pool(ip)

    def holds(self, service: str) -> list[str]:
        return [ip for ip in (a.holds(service) for a in self.by_family.values()) if ip]

    def occupy(self, service: str, ip: str, key: str, ports: PortSet) -> None:
        self.by_family[_version(ip)].occupy(service, ip, key, ports)

    def release(self, service: str) -> bool:
        return any([allocator.release(service) for allocator in self.by_family.values()])

    def assign(self, service: str, families: list[int], requested: list[str], key: str,
               ports: PortSet) -> list[str]:
        """One address per family (primary first); all or none: an error releases them all."""
        if requested:
            foreign = [ip for ip in requested if _version(ip) not in families]
            if foreign:
                raise AllocationError(f"requested address {foreign[0]} is not of the service's IP families")
            wanted = [f for f in families if any(_version(ip) == f for ip in requested)]
        else:
            wanted = [f for f in families if self.by_family[f].pools]
            if not wanted:
                names = ", ".join(f"IPv{f}" for f in families)
                raise AllocationError(f"no address pool of the service's IP families ({names})")
        try:
            return [self.by_family[f].assign(service, [ip for ip in requested if _version(ip) == f],
                                             key, ports) for f in wanted]
        except AllocationError:
            self.release(service)
            raise


def _annotations(svc: Obj) -> dict[str, str]:
    return dict((svc.get("metadata") or {}).get("annotations") or {})


def wants_address(svc: Obj) -> bool:
    """A LoadBalancer Service this allocator serves (no class, or kprov's)."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return False
    return spec.get("loadBalancerClass") in (None, "", LOADBALANCER_CLASS)


def requested_ips(svc: Obj) -> list[str]:
    annotations = _annotations(svc)
    text = annotations.get(IPS_ANNOTATION) or annotations.get(METALLB_IPS_ANNOTATION) or ""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted and (svc.get("spec") or {}).get("loadBalancerIP"):
        wanted = [str(svc["spec"]["loadBalancerIP"])]
    return wanted


def sharing_key(svc: Obj) -> str:
    annotations = _annotations(svc)
    return annotations.get(SHARING_ANNOTATION) or annotations.get(METALLB_SHARING_ANNOTATION) or ""


def service_ports(svc: Obj) -> PortSet:
    return frozenset(
        (str(p.get("protocol") or "TCP").lower(), int(p.get("port") or 0))
        for p in (svc.get("spec") or {}).get("ports") or []
    )


def _ingress_ips(svc: Obj) -> list[str]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(entry["ip"]) for entry in ingress if entry.get("ip")]


def _node_ready_ip(node: Obj) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        return ""
    if (node.get("spec") or {}).get("unschedulable"):
        return ""
    addresses = (node.get("status") or {}).get("addresses") or []
    by_type = {a.get("type"): a.get("address") for a in addresses}
    return str(by_type.get("ExternalIP") or by_type.get("InternalIP") or "")


class LoadBalancerIpamController(Controller):
    name = "service-lb-ipam"
    identity = "service-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.allocator = FamilyAllocator.of(parse_pools(ctx.options.loadbalancer_address_pools))
        super().__init__(ctx)

    def setup(self) -> None:
        self.services = self.ctx.informers.get(SERVICES)
        self.nodes = self.ctx.informers.get(NODES)
        self.services.add_handler(EventHandler(self._seen, lambda _o, n: self._seen(n), self._gone))
        self.nodes.add_handler(
            EventHandler(self._node_changed, lambda _o, n: self._node_changed(n), self._node_changed)
        )

    def _seen(self, svc: Obj) -> None:
        key = object_key(svc)
        if wants_address(svc) and not self.allocator.holds(key):
            held = [ip for ip in _ingress_ips(svc) if self.allocator.in_pool(ip)]
            for ip in held:  # an earlier allocation (e.g. before a restart) stays with its Service
                self.allocator.occupy(key, ip, sharing_key(svc), service_ports(svc))
        self.queue.add(key)

    def _gone(self, svc: Obj) -> None:
        if self.allocator.release(object_key(svc)):
            self._retry_pending()

    def _node_changed(self, _node: Obj) -> None:
        if not self.allocator.pools:
            self._retry_pending(all_lb=True)

    def _retry_pending(self, all_lb: bool = False) -> None:
        for svc in self.services.store:
            if wants_address(svc) and (all_lb or not _ingress_ips(svc)):
                self.queue.add(object_key(svc))

    def _node_addresses(self) -> list[str]:
        return sorted({ip for ip in (_node_ready_ip(n) for n in self.nodes.store) if ip})

    async def reconcile(self, key: str) -> float | None:
        if not (self.services.has_synced.is_set() and self.nodes.has_synced.is_set()):
            return 1.0  # know every existing allocation before handing out new ones
        svc = self.services.store.get(key)
        if svc is None:
            if self.allocator.release(key):
                self._retry_pending()
            return None
        if not wants_address(svc):
            released = self.allocator.release(key)
            if released:
                self._retry_pending()
            not_lb = (svc.get("spec") or {}).get("type") != "LoadBalancer"
            if (released or not_lb) and _ingress_ips(svc):  # another class's status is not ours
                await self._write_ingress(svc, [])
            return None
        if not self.allocator.pools:
            addresses = self._node_addresses()
            if addresses != _ingress_ips(svc):
                await self._write_ingress(svc, addresses)
                await self.ctx.recorder.record(
                    svc,
                    "Normal",
                    "NodeAddressesAssigned",
                    "No loadbalancer_address_pools configured: using the addresses of the ready nodes "
                    f"{', '.join(addresses) or '(none)'} (as k3s ServiceLB does)",
                )
            return None
        try:
            ips = self.allocator.assign(key, service_families(svc), requested_ips(svc), sharing_key(svc),
                                        service_ports(svc))
        except AllocationError as exc:
            if self.allocator.release(key):
                self._retry_pending()
            if _ingress_ips(svc):
                await self._write_ingress(svc, [])
            message = f'Failed to allocate IP for "{key}": {exc}'
            await self.ctx.recorder.record(svc, "Warning", "AllocationFailed", message)
            return None
        if _ingress_ips(svc) != ips:
            await self._write_ingress(svc, ips)
            log.info("service %s: load balancer addresses %s", key, ", ".join(ips))
            quoted = " ".join(f'"{ip}"' for ip in ips)  # Go's %q of a slice, as MetalLB's Event
            await self.ctx.recorder.record(svc, "Normal", "IPAllocated", f"Assigned IP [{quoted}]")
        return None

    async def _write_ingress(self, svc: Obj, addresses: Iterable[str]) -> None:
        ingress: list[dict[str, Any]] = [{"ip": ip, "ipMode": "VIP"} for ip in addresses]
        status = {**(svc.get("status") or {}), "loadBalancer": {"ingress": ingress} if ingress else {}}
        try:
            await self.client.update_status(SERVICES, {**svc, "status": status})
        except NotFound:
            return
