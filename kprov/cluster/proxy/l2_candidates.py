"""Which LoadBalancer addresses this node may announce on its link (MetalLB L2's ShouldAnnounce).

Pure: the proxy's service ports (:mod:`.servicemap`) and the Node objects in, a map of
address -> the Services (``namespace/name``) that want it announced from this node out.
A node qualifies for an address, as MetalLB's layer-2 speaker decides it, when:

- the node is Ready and not labelled ``node.kubernetes.io/exclude-from-external-load-balancers``;
- a Service with that address in ``status.loadBalancer.ingress[].ip`` has a ready endpoint:
  anywhere for ``externalTrafficPolicy: Cluster``, on this node for ``Local`` (another node
  would drop the traffic: kube-proxy sends Local traffic only to its own endpoints).

An address that is some node's own address (the ServiceLB-style fallback without pools puts
node InternalIPs in the status) is never announced: it already answers, and claiming it
elsewhere would steal a node's address. Among the qualifying nodes one wins the address's
Lease (:func:`lease_name`); the election is :mod:`.speaker`'s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from kprov.cluster.proxy.servicemap import ServicePort

__all__ = ["EXCLUDE_LABEL", "announceable", "lease_name", "node_qualifies"]

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
LEASE_PREFIX = "kprov-l2-"

Obj = dict[str, Any]


def node_qualifies(node: Obj) -> bool:
    """Ready and not excluded from external load balancers."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if EXCLUDE_LABEL in labels:
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _node_addresses(nodes: Iterable[Obj]) -> set[str]:
    return {
        str(entry.get("address"))
        for node in nodes
        for entry in (node.get("status") or {}).get("addresses") or []
        if entry.get("type") in ("InternalIP", "ExternalIP")
    }


def _served_here(port: ServicePort, node_name: str) -> bool:
    if port.external_local:
        return any(endpoint.node == node_name for endpoint in port.endpoints)
    return bool(port.endpoints)


def announceable(
    ports: Iterable[ServicePort], nodes: Iterable[Obj], node_name: str
) -> dict[str, tuple[str, ...]]:
    """Address -> sorted ``namespace/name`` of the Services that want it from ``node_name``."""
    node_list = list(nodes)
    own = next((n for n in node_list if (n.get("metadata") or {}).get("name") == node_name), None)
    if own is None or not node_qualifies(own):
        return {}
    taken = _node_addresses(node_list)
    wanted: dict[str, set[str]] = {}
    for port in ports:
        if not port.load_balancer_ips or not _served_here(port, node_name):
            continue
        for address in port.load_balancer_ips:
            if address not in taken:
                wanted.setdefault(address, set()).add(f"{port.namespace}/{port.name}")
    return {address: tuple(sorted(wanted[address])) for address in sorted(wanted)}


def lease_name(address: str) -> str:
    """The Lease in kube-system that elects the announcing node: ``kprov-l2-10-77-4-200``."""
    ip = ipaddress.ip_address(address)
    text = ip.exploded if ip.version == 6 else str(ip)
    return LEASE_PREFIX + text.replace(".", "-").replace(":", "-")
