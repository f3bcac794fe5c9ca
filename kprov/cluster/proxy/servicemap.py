"""Services + EndpointSlices (API objects) -> one plain record per service port.

kube-proxy's unit of work is a *service port*: (namespace, name, port name, protocol) with
its ClusterIPs, NodePort, session affinity and the ready backends behind it. This module
joins Services with their EndpointSlices (label ``kubernetes.io/service-name``), matching
slice ports to service ports by name and protocol, and keeps only what the rules need.
It is pure: dictionaries in, frozen dataclasses out, deterministic order.

Readiness follows the EndpointSlice API: ``conditions.ready`` absent counts as ready, and
``serving`` absent means what ``ready`` says. As upstream's kube-proxy (terminating endpoints,
GA in 1.28), a service port's endpoints are its ready ones, or, when none is ready, the ones
still serving while terminating; ``terminating_endpoints`` keeps those too for policy Local
(external or internal), whose node-local set falls back the same way on its own.
Headless services (clusterIP None) and ExternalName services get no rules. IPv4 only.
Services and slices labelled ``service.kubernetes.io/service-proxy-name`` (any value: a
different proxy implements them) or ``service.kubernetes.io/headless`` are ignored, as
kube-proxy's informers never list them (:func:`ignored`; the daemon's selector does the same).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.sloppy_ip import canonical_ip

__all__ = ["ADDRESS_TYPES", "HEADLESS_LABEL", "PROXY_NAME_LABEL", "PROXY_SELECTOR", "SERVICE_NAME_LABEL",
           "Endpoint", "ServicePort", "ignored", "of_family", "service_ports"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"  # another proxy serves it
HEADLESS_LABEL = "service.kubernetes.io/headless"
PROXY_SELECTOR = f"!{PROXY_NAME_LABEL},!{HEADLESS_LABEL}"  # kube-proxy's informers' selector
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""
    ready: bool = True  # False: serving while terminating (used only when nothing is ready)


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # "tcp" | "udp" | "sctp" (nft spelling)
    cluster_ips: tuple[str, ...]
    port: int
    node_port: int = 0
    affinity_timeout: int = 0  # seconds; 0 = no ClientIP affinity
    endpoints: tuple[Endpoint, ...] = ()  # ready ones, else serving terminating ones
    load_balancer_ips: tuple[str, ...] = ()  # status.loadBalancer.ingress[].ip (ipMode VIP)
    external_ips: tuple[str, ...] = ()  # spec.externalIPs: external traffic, as load-balancer IPs
    external_local: bool = False  # externalTrafficPolicy Local: external traffic to local endpoints
    health_check_node_port: int = 0  # spec.healthCheckNodePort (LoadBalancer with policy Local)
    terminating_endpoints: tuple[Endpoint, ...] = ()  # serving while terminating (policy Local only)
    internal_local: bool = False  # internalTrafficPolicy Local: cluster-IP traffic to local endpoints

    @property
    def key(self) -> str:
        """Stable identity of the service port, e.g. ``default/web/tcp/http``."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}"


_ADDRESS_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
ADDRESS_TYPES = {4: "IPv4", 6: "IPv6"}  # EndpointSlice addressType of each family


def _endpoint_address(text: str, family: int) -> str | None:
    """An endpoint address of ``family`` in canonical text (IPv6 compressed, as the kernel
    and nft print it), or None; the API's IPv4 endpoint addresses are taken as they are."""
    try:
        packed = socket.inet_pton(_ADDRESS_FAMILIES[family], text)
    except (OSError, TypeError):
        return None
    return text if family == 4 else socket.inet_ntop(socket.AF_INET6, packed)


def of_family(text: str, family: int) -> bool:
    """Whether ``text`` is an address of ``family`` (4 or 6)."""
    try:
        socket.inet_pton(_ADDRESS_FAMILIES[family], text)
    except (OSError, TypeError):
        return False
    return True


def _canonical(text: str, family: int) -> str | None:
    """A Service address of ``family`` in canonical text (``10.96.0.011`` is ``.11``), or None.
    IPv6 goes through inet_pton/inet_ntop: ``ipaddress`` would double the IPv4 cost of a
    dual-stack sync."""
    if family == 6:
        return _endpoint_address(text, 6)
    if ":" in text:
        return None
    canonical = canonical_ip(text)
    return canonical if of_family(canonical, 4) else None


def _addresses(texts: Iterable[Any], family: int) -> tuple[str, ...]:
    canonical = (_canonical(str(text), family) for text in texts if text and text != "None")
    return tuple(ip for ip in canonical if ip is not None)


def _cluster_ips(spec: dict[str, Any], family: int) -> tuple[str, ...]:
    listed = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return _addresses(listed, family)


def _load_balancer_ips(svc: dict[str, Any], family: int) -> tuple[str, ...]:
    if (svc.get("spec") or {}).get("type") != "LoadBalancer":
        return ()
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return _addresses((entry.get("ip") for entry in ingress if entry.get("ipMode", "VIP") == "VIP"), family)


def _external_ips(spec: dict[str, Any], family: int) -> tuple[str, ...]:
    return _addresses(spec.get("externalIPs") or [], family)


def _affinity_timeout(spec: dict[str, Any]) -> int:
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)


def _ready(endpoint: dict[str, Any]) -> bool:
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready)


def _serving_terminating(endpoint: dict[str, Any]) -> bool:
    conditions = endpoint.get("conditions") or {}
    serving = conditions.get("serving")
    return bool(conditions.get("terminating")) and (_ready(endpoint) if serving is None else bool(serving))


def _slice_endpoints(
    slices: Iterable[dict[str, Any]], port_name: str, protocol: str, family: int
) -> tuple[Endpoint, ...]:
    """Ready endpoints of ``family``'s slices, plus (``ready=False``) those serving while
    terminating."""
    found: set[Endpoint] = set()
    for eps in slices:
        if eps.get("addressType", "IPv4") != ADDRESS_TYPES[family]:
            continue
        numbers = [
            p.get("port")
            for p in eps.get("ports") or []
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol
        ]
        if not numbers or numbers[0] is None:
            continue
        for endpoint in eps.get("endpoints") or []:
            ready = _ready(endpoint)
            if not ready and not _serving_terminating(endpoint):
                continue
            for address in endpoint.get("addresses") or []:
                canonical = _endpoint_address(address, family)
                if canonical is not None:
                    found.add(Endpoint(canonical, int(numbers[0]), endpoint.get("nodeName") or "", ready))
    return tuple(sorted(found))


def ignored(obj: dict[str, Any]) -> bool:
    """Whether kube-proxy leaves this Service or EndpointSlice alone (by its labels)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return PROXY_NAME_LABEL in labels or HEADLESS_LABEL in labels


def service_ports(
    services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]], family: int = 4
) -> list[ServicePort]:
    """Every service port of ``family`` (4 or 6) that needs rules, sorted by key, with its
    ready endpoints: the Service's cluster IPs, load-balancer and external IPs of that family
    and the endpoints of its EndpointSlices of that family (upstream's kube-proxy runs one
    proxier per family the same way). A single-stack Service has no ports in the other."""
    by_service: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for eps in slices:
        if ignored(eps):
            continue
        meta = eps.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((meta.get("namespace") or "", owner), []).append(eps)
    result: list[ServicePort] = []
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or ignored(svc):
            continue
        cluster_ips = _cluster_ips(spec, family)
        if not cluster_ips:
            continue
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        own_slices = by_service.get((namespace, name), [])
        external_ips = _external_ips(spec, family)
        external_local = spec.get("externalTrafficPolicy") == "Local" and (
            spec.get("type") in ("NodePort", "LoadBalancer") or bool(external_ips))
        internal_local = spec.get("internalTrafficPolicy") == "Local"
        for port in spec.get("ports") or []:
            protocol = port.get("protocol") or "TCP"
            usable = _slice_endpoints(own_slices, port.get("name") or "", protocol, family)
            ready = tuple(ep for ep in usable if ep.ready)
            terminating = tuple(ep for ep in usable if not ep.ready)
            result.append(
                ServicePort(
                    namespace=namespace,
                    name=name,
                    port_name=port.get("name") or "",
                    protocol=protocol.lower(),
                    cluster_ips=cluster_ips,
                    port=int(port["port"]),
                    node_port=int(port.get("nodePort") or 0)
                    if spec.get("type") in ("NodePort", "LoadBalancer")
                    else 0,
                    affinity_timeout=_affinity_timeout(spec),
                    endpoints=ready or terminating,
                    load_balancer_ips=_load_balancer_ips(svc, family),
                    external_ips=external_ips,
                    external_local=external_local,
                    health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
                    if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
                    else 0,
                    terminating_endpoints=terminating if external_local or internal_local else (),
                    internal_local=internal_local,
                )
            )
    result.sort(key=lambda sp: sp.key)
    return result
