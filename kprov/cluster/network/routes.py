"""Routes from this node to every other node's pod CIDRs, kept current as Nodes come and go.

:func:`plan_routes` is pure: Nodes (API objects) + this node's name + the networks on its
interfaces -> a :class:`RoutePlan`. Address families are data: each of a peer's pod CIDRs
(spec.podCIDRs, one per family on a dual-stack cluster) is planned alike, against the
peer's InternalIP of the CIDR's family. A peer whose address is inside one of the local
networks is on the same L2 segment: a plain route ``podCIDR via nodeIP``. Any other peer is
reached over vxlan: device ``kprov.vxlan`` (VNI 77, UDP 4789, no learning; its underlay is
this node's primary address, so every family's traffic rides the same tunnel) holding each of
this node's pod CIDRs' network address as a host address (/32, /128), one all-zeros FDB entry
per such peer's underlay address (head-end replication, so ARP and neighbour discovery for the
peer's vxlan address reach it) and a route ``podCIDR via <peer's pod network address> dev
kprov.vxlan onlink``.

:class:`RouteManager` applies a plan with ip(8)/bridge(8). Routes it owns carry protocol
number 77 (``proto 77``), so stale ones (a node that left) are found and deleted without
touching anyone else's routes.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RouteManager",
    "RoutePlan",
    "local_networks",
    "node_internal_ip",
    "node_internal_ips",
    "node_pod_cidrs",
    "plan_routes",
]

log = logging.getLogger(__name__)

ROUTE_PROTO = "77"
VXLAN_DEVICE = "kprov.vxlan"
VXLAN_ID = 77
VXLAN_PORT = 4789


@dataclass(frozen=True)
class RoutePlan:
    direct: dict[str, str] = field(default_factory=dict)  # pod CIDR -> peer node IP (its family)
    vxlan: dict[str, str] = field(default_factory=dict)  # pod CIDR -> peer's underlay IP
    own_cidrs: tuple[str, ...] = ()  # this node's pod CIDRs, the primary family first

    @property
    def own_cidr(self) -> str:
        return self.own_cidrs[0] if self.own_cidrs else ""


def node_internal_ips(node: dict[str, Any]) -> dict[int, str]:
    """The node's first InternalIP of each IP version (4, 6)."""
    found: dict[int, str] = {}
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") != "InternalIP":
            continue
        try:
            version = ipaddress.ip_address(address.get("address", "")).version
        except ValueError:
            continue
        found.setdefault(version, str(address["address"]))
    return found


def node_internal_ip(node: dict[str, Any], version: int = 4) -> str:
    return node_internal_ips(node).get(version, "")


def node_pod_cidrs(node: dict[str, Any]) -> list[str]:
    """spec.podCIDRs (both families on a dual-stack cluster), else the single spec.podCIDR."""
    spec = node.get("spec") or {}
    single = [str(spec["podCIDR"])] if spec.get("podCIDR") else []
    return [str(c) for c in spec.get("podCIDRs") or []] or single


def plan_routes(
    nodes: Iterable[dict[str, Any]], own_name: str, networks: Sequence[str], underlay: int = 4
) -> RoutePlan:
    """``underlay``: the IP version of this node's vxlan tunnel (its primary address's)."""
    local = [ipaddress.ip_network(n, strict=False) for n in networks]
    plan = RoutePlan()
    for node in nodes:
        name = (node.get("metadata") or {}).get("name")
        # canonical text (fd00:10:244::/64, not fd00:10:244:0::/64): the kernel's routes are
        # compared by it, and a spelling difference would delete and re-add a route each sync
        cidrs = [str(ipaddress.ip_network(c, strict=False)) for c in node_pod_cidrs(node)]
        if name == own_name:
            object.__setattr__(plan, "own_cidrs", tuple(cidrs))
            continue
        ips = node_internal_ips(node)
        for cidr in cidrs:
            version = ipaddress.ip_network(cidr, strict=False).version
            ip = ips.get(version, "")
            if ip and any(ipaddress.ip_address(ip) in net for net in local if net.version == version):
                plan.direct[cidr] = ip
            elif ips.get(underlay):
                plan.vxlan[cidr] = ips[underlay]
    return plan


def _run(*argv: str, check: bool = True) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def local_networks() -> list[str]:
    """Networks of this host's addresses of both families (``ip -j addr``), pod bridges and
    link-local addresses excluded."""
    data = json.loads(_run("ip", "-j", "addr", "show") or "[]")
    networks = []
    for link in data:
        if link.get("ifname") in ("lo", "cni0", VXLAN_DEVICE):
            continue
        for info in link.get("addr_info") or []:
            if info.get("family") in ("inet", "inet6") and info.get("scope") != "link":
                networks.append(f"{info['local']}/{info['prefixlen']}")
    return networks


def _device_for(ip: str) -> str:
    route = json.loads(_run("ip", "-j", "route", "get", ip) or "[{}]")
    return str(route[0].get("dev", ""))


class RouteManager:
    """Brings the kernel's routes (proto 77) and vxlan device to a :class:`RoutePlan`."""

    def __init__(self, node_ip: str) -> None:
        self.node_ip = node_ip

    def _owned_routes(self) -> dict[str, dict[str, Any]]:
        owned: dict[str, dict[str, Any]] = {}
        for family in ("-4", "-6"):
            routes = json.loads(_run("ip", "-j", family, "route", "show", "proto", ROUTE_PROTO) or "[]")
            owned.update((str(ipaddress.ip_network(r["dst"], strict=False)), r) for r in routes)
        return owned

    def _ensure_vxlan(self, own_cidrs: Sequence[str], peers: Iterable[str]) -> None:
        links = json.loads(_run("ip", "-j", "link", "show") or "[]")
        if not any(link.get("ifname") == VXLAN_DEVICE for link in links):
            _run(
                "ip", "link", "add", VXLAN_DEVICE, "type", "vxlan", "id", str(VXLAN_ID),
                "local", self.node_ip, "dev", _device_for(self.node_ip),
                "dstport", str(VXLAN_PORT), "nolearning",
            )
        for own_cidr in own_cidrs:
            own = ipaddress.ip_network(own_cidr)
            _run("ip", "addr", "replace", f"{own.network_address}/{own.max_prefixlen}", "dev", VXLAN_DEVICE)
        _run("ip", "link", "set", VXLAN_DEVICE, "up")
        fdb = _run("bridge", "fdb", "show", "dev", VXLAN_DEVICE)
        present = {line.split(" dst ")[1].split()[0] for line in fdb.splitlines() if " dst " in line}
        wanted = set(peers)
        for peer in wanted - present:
            _run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", VXLAN_DEVICE, "dst", peer)
        for peer in present - wanted:
            _run("bridge", "fdb", "del", "00:00:00:00:00:00", "dev", VXLAN_DEVICE, "dst", peer, check=False)

    def apply(self, plan: RoutePlan) -> list[str]:
        """Make the routes match; returns the commands' short descriptions (for the log)."""
        done: list[str] = []
        owned = self._owned_routes()
        if plan.vxlan and plan.own_cidrs:
            self._ensure_vxlan(plan.own_cidrs, set(plan.vxlan.values()))
        for cidr, via in plan.direct.items():
            if owned.get(cidr, {}).get("gateway") != via or owned[cidr].get("dev") == VXLAN_DEVICE:
                _run("ip", "route", "replace", cidr, "via", via, "proto", ROUTE_PROTO)
                done.append(f"{cidr} via {via}")
        for cidr in plan.vxlan if plan.own_cidrs else ():
            gateway = str(ipaddress.ip_network(cidr).network_address)
            if owned.get(cidr, {}).get("gateway") != gateway:
                _run("ip", "route", "replace", cidr, "via", gateway, "dev", VXLAN_DEVICE,
                     "onlink", "proto", ROUTE_PROTO)
                done.append(f"{cidr} via {gateway} dev {VXLAN_DEVICE}")
        for cidr in owned.keys() - plan.direct.keys() - plan.vxlan.keys():
            _run("ip", "route", "del", cidr, "proto", ROUTE_PROTO, check=False)
            done.append(f"{cidr} removed")
        return done
