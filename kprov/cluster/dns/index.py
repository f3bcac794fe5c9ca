"""The cluster DNS's in-memory index: Services, EndpointSlices and Pods reduced to what
names need, updated by informer handlers, read by every query (no API call per query).

Each object is reduced to a small frozen record when its event arrives; queries read
plain dicts. ``generation`` grows on every change that can alter an answer, so the
server's response cache (see :mod:`.server`) knows when to forget. The reverse (PTR) map
and the per-namespace service counts are derived lazily, once per generation.

Dual-stack: a Service's every cluster IP, every EndpointSlice of either family and every
address of a pod's ``status.podIPs`` are indexed, addresses in canonical text (so an IPv6
PTR query, which names all 32 nibbles, finds what the API wrote in any spelling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.sloppy_ip import canonical_ip

__all__ = ["ClusterIndex", "EndpointEntry", "PortEntry", "ServiceEntry", "dashed"]

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class PortEntry:
    name: str
    protocol: str  # lower case: "tcp", "udp", "sctp"
    port: int


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty when headless or ExternalName
    headless: bool
    external_name: str
    ports: tuple[PortEntry, ...]
    publish_not_ready: bool


@dataclass(frozen=True)
class EndpointEntry:
    addresses: tuple[str, ...]
    hostname: str
    ready: bool
    ports: tuple[PortEntry, ...]  # the slice's ports (target ports)

    def label(self) -> str:
        """The endpoint's name under its service: its hostname, else its dashed address."""
        return self.hostname or dashed(self.addresses[0])


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _ports(raw: list[Obj] | None, port_key: str = "port") -> tuple[PortEntry, ...]:
    out = []
    for p in raw or []:
        number = p.get(port_key)
        if isinstance(number, int):
            out.append(PortEntry(p.get("name") or "", (p.get("protocol") or "TCP").lower(), number))
    return tuple(out)


def service_entry(svc: Obj) -> ServiceEntry:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    stored = spec.get("clusterIPs") or [spec.get("clusterIP") or ""]
    ips = [canonical_ip(ip) for ip in stored if ip and ip != "None"]
    external = (spec.get("externalName") or "").rstrip(".") if kind == "ExternalName" else ""
    return ServiceEntry(
        namespace=meta.get("namespace") or "default",
        name=meta.get("name") or "",
        cluster_ips=tuple(ips) if kind != "ExternalName" else (),
        headless=kind != "ExternalName" and not ips,
        external_name=external,
        ports=_ports(spec.get("ports")),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
    )


def slice_endpoints(eps: Obj) -> tuple[EndpointEntry, ...]:
    ports = _ports(eps.get("ports"))
    out = []
    for ep in eps.get("endpoints") or []:
        addresses = tuple(canonical_ip(a) for a in ep.get("addresses") or [] if a)
        if not addresses:
            continue
        ready = (ep.get("conditions") or {}).get("ready")
        out.append(EndpointEntry(addresses, ep.get("hostname") or "", ready is None or bool(ready), ports))
    return tuple(out)


def _pod_ips(status: Obj) -> tuple[str, ...]:
    """A pod's addresses: every ``status.podIPs`` entry (both families), else ``podIP``."""
    listed = [entry.get("ip") for entry in status.get("podIPs") or [] if isinstance(entry, dict)]
    texts = [ip for ip in listed if ip] or ([status["podIP"]] if status.get("podIP") else [])
    return tuple(dict.fromkeys(canonical_ip(str(ip)) for ip in texts))


class ClusterIndex:
    """Everything the zone's answers are made of, keyed for lookups by name."""

    def __init__(self) -> None:
        self.generation = 0
        self.services: dict[tuple[str, str], ServiceEntry] = {}
        # (namespace, service) -> slice name -> endpoints
        self.slices: dict[tuple[str, str], dict[str, tuple[EndpointEntry, ...]]] = {}
        self._slice_owner: dict[tuple[str, str], str] = {}  # (ns, slice) -> service name
        self.pod_ips: dict[tuple[str, str], int] = {}  # (namespace, ip) -> pods holding it
        self._pod_ip: dict[tuple[str, str], tuple[str, ...]] = {}  # (ns, pod) -> its IPs
        self._derived_at = -1
        self._reverse: dict[str, list[str]] = {}
        self._namespaces: set[str] = set()

    def _changed(self) -> None:
        self.generation += 1

    # ---- services ------------------------------------------------------------------------
    def set_service(self, svc: Obj) -> None:
        entry = service_entry(svc)
        key = (entry.namespace, entry.name)
        if self.services.get(key) != entry:
            self.services[key] = entry
            self._changed()

    def delete_service(self, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        if self.services.pop((meta.get("namespace") or "default", meta.get("name") or ""), None):
            self._changed()

    # ---- endpoint slices -----------------------------------------------------------------
    def set_slice(self, eps: Obj) -> None:
        meta = eps.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name") or ""
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or ""
        previous = self._slice_owner.get((ns, name))
        if previous is not None and previous != service:
            self._drop_slice(ns, name, previous)
        if not service:
            return
        endpoints = slice_endpoints(eps)
        per_service = self.slices.setdefault((ns, service), {})
        if per_service.get(name) != endpoints:
            per_service[name] = endpoints
            self._changed()
        self._slice_owner[(ns, name)] = service

    def delete_slice(self, eps: Obj) -> None:
        meta = eps.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name") or ""
        service = self._slice_owner.get((ns, name))
        if service is not None:
            self._drop_slice(ns, name, service)

    def _drop_slice(self, ns: str, name: str, service: str) -> None:
        self._slice_owner.pop((ns, name), None)
        per_service = self.slices.get((ns, service))
        if per_service is not None and per_service.pop(name, None) is not None:
            if not per_service:
                del self.slices[(ns, service)]
            self._changed()

    def endpoints(self, ns: str, service: str) -> list[EndpointEntry]:
        out: list[EndpointEntry] = []
        for endpoints in (self.slices.get((ns, service)) or {}).values():
            out.extend(endpoints)
        return out

    # ---- pods ----------------------------------------------------------------------------
    def set_pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        ips = _pod_ips(pod.get("status") or {})
        old = self._pod_ip.get(key, ())
        if old == ips:
            return
        for ip in old:
            self._unref_pod_ip(key[0], ip)
        if ips:
            self._pod_ip[key] = ips
            for ip in ips:
                self.pod_ips[(key[0], ip)] = self.pod_ips.get((key[0], ip), 0) + 1
        else:
            self._pod_ip.pop(key, None)
        self._changed()

    def delete_pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        old = self._pod_ip.pop(key, ())
        for ip in old:
            self._unref_pod_ip(key[0], ip)
        if old:
            self._changed()

    def _unref_pod_ip(self, ns: str, ip: str) -> None:
        left = self.pod_ips.get((ns, ip), 0) - 1
        if left > 0:
            self.pod_ips[(ns, ip)] = left
        else:
            self.pod_ips.pop((ns, ip), None)

    # ---- derived views -------------------------------------------------------------------
    def _derive(self) -> None:
        if self._derived_at == self.generation:
            return
        reverse: dict[str, list[str]] = {}
        for (ns, name), svc in self.services.items():
            for ip in svc.cluster_ips:
                reverse.setdefault(ip, []).append(f"{name}.{ns}.svc")
            if svc.headless:
                for ep in self.endpoints(ns, name):
                    if ep.ready or svc.publish_not_ready:
                        for ip in ep.addresses:
                            reverse.setdefault(ip, []).append(f"{ep.label()}.{name}.{ns}.svc")
        self._reverse = reverse
        self._namespaces = {ns for ns, _ in self.services}
        self._derived_at = self.generation

    def reverse(self, ip: str) -> list[str]:
        """Names (relative to the zone) whose address is ``ip``."""
        self._derive()
        return self._reverse.get(ip, [])

    def has_namespace(self, ns: str) -> bool:
        self._derive()
        return ns in self._namespaces
