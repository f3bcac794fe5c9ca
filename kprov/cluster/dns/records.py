"""The Kubernetes DNS specification as a pure function: (index, name, type) -> answer.

The contract is kubernetes/dns/docs/specification.md (schema 1.1.0) for the cluster zone:

- ``<svc>.<ns>.svc.<zone>``: A/AAAA = the ClusterIP(s); for a headless Service the ready
  endpoints' addresses (every endpoint with ``publishNotReadyAddresses``); ExternalName ->
  a CNAME to ``spec.externalName``;
- ``<ep>.<svc>.<ns>.svc.<zone>`` for a headless Service's endpoint: its hostname (pods with
  ``hostname``/``subdomain``, StatefulSets) or, without one, its dashed address (as CoreDNS);
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` SRV for named ports (the Service's port and
  name for a ClusterIP Service, each ready endpoint's port and name when headless);
- PTR for ClusterIPs and headless endpoints' addresses (``in-addr.arpa`` and, for IPv6,
  ``ip6.arpa``);
- ``a-b-c-d.<ns>.pod.<zone>`` pod A/AAAA (``pods``: verified = only a pod's IP in that
  namespace, insecure = any address, disabled);
- ``dns-version.<zone>`` TXT; existing names with no record of the asked type -> NODATA,
  unknown names -> NXDOMAIN, both with the zone's SOA in the authority section.

Records are plain (name, type, ttl, text) tuples so tests read as data; :mod:`.server`
turns them into wire format. ``None`` means "not this zone's to answer" (forward it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from kprov.cluster.dns.index import ClusterIndex, EndpointEntry, ServiceEntry

__all__ = ["Answer", "Record", "ZoneConfig", "lookup", "reverse_ip", "soa_record"]

SCHEMA_VERSION = "1.1.0"


@dataclass(frozen=True)
class ZoneConfig:
    zone: str = "cluster.local"
    ttl: int = 30
    pods: str = "verified"  # verified | insecure | disabled


@dataclass(frozen=True)
class Record:
    name: str  # absolute, lower case, with the trailing dot
    rtype: str  # "A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "SOA"
    ttl: int
    value: str  # presentation format


@dataclass
class Answer:
    rcode: str = "NOERROR"  # or "NXDOMAIN"
    answer: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    chase: str = ""  # a CNAME target outside the zone, for the caller to resolve


def soa_record(config: ZoneConfig, serial: int) -> Record:
    zone = config.zone
    return Record(f"{zone}.", "SOA", config.ttl,
                  f"ns.dns.{zone}. hostmaster.{zone}. {serial % 2**32} 7200 1800 86400 {config.ttl}")


def reverse_ip(name: str) -> str | None:
    """The address a reverse name stands for (``4.3.2.1.in-addr.arpa`` -> 1.2.3.4)."""
    if name.endswith(".in-addr.arpa"):
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return ".".join(reversed(parts))
        return None
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) == 32 and all(len(n) == 1 for n in nibbles):
            try:
                return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
            except ValueError:
                return None
    return None


def _addr_record(name: str, ip: str, ttl: int) -> Record:
    return Record(name, "AAAA" if ":" in ip else "A", ttl, ip)


def _undash(label: str) -> str | None:
    """The address a pod label names: ``10-244-1-2`` or ``fd00-10-244-1--a`` (an IPv6 address
    may have three dashes too, ``fd00--1-2``, so IPv4 is only the first try)."""
    if label.count("-") == 3:
        try:
            return str(ipaddress.IPv4Address(label.replace("-", ".")))
        except ValueError:
            pass
    try:
        return str(ipaddress.IPv6Address(label.replace("-", ":")))
    except ValueError:
        return None


class _Zone:
    """One query's view of the zone: what exists at a name, and its records."""

    def __init__(self, index: ClusterIndex, config: ZoneConfig) -> None:
        self.index, self.config = index, config
        self.ttl = config.ttl
        self.suffix = f".{config.zone}."

    def _visible(self, svc: ServiceEntry) -> list[EndpointEntry]:
        return [e for e in self.index.endpoints(svc.namespace, svc.name) if e.ready or svc.publish_not_ready]

    def records(self, name: str, labels: list[str]) -> tuple[list[Record], list[Record]] | None:
        """(records at the name, additional records), or None if the name does not exist."""
        ttl, n = self.ttl, len(labels)
        if n == 0:
            return [soa_record(self.config, self.index.generation)], []
        if labels == ["dns-version"]:
            return [Record(name, "TXT", ttl, f'"{SCHEMA_VERSION}"')], []
        if labels in (["svc"], ["pod"]):
            return [], []
        if labels[-1] == "pod":
            return self._pod(name, labels)
        if labels[-1] != "svc":
            return None
        if n == 2:
            return ([], []) if self.index.has_namespace(labels[0]) else None
        svc = self.index.services.get((labels[-2], labels[-3]))
        if svc is None:
            return None
        if n == 3:
            return self._service(name, svc), []
        if n == 4:
            if labels[0].startswith("_"):
                proto = labels[0][1:]
                return ([], []) if any(p.name and p.protocol == proto for p in svc.ports) else None
            if not svc.headless:
                return None
            found = [e for e in self._visible(svc) if e.label() == labels[0]]
            if not found:
                return None
            return [_addr_record(name, ip, ttl) for e in found for ip in e.addresses], []
        if n == 5 and labels[0].startswith("_") and labels[1].startswith("_"):
            return self._srv(name, svc, labels[0][1:], labels[1][1:])
        return None

    def _service(self, name: str, svc: ServiceEntry) -> list[Record]:
        if svc.external_name:
            return [Record(name, "CNAME", self.ttl, f"{svc.external_name}.")]
        if not svc.headless:
            return [_addr_record(name, ip, self.ttl) for ip in svc.cluster_ips]
        seen: dict[str, Record] = {}
        for e in self._visible(svc):
            for ip in e.addresses:
                seen.setdefault(ip, _addr_record(name, ip, self.ttl))
        return list(seen.values())

    def _srv(
        self, name: str, svc: ServiceEntry, port: str, proto: str
    ) -> tuple[list[Record], list[Record]] | None:
        base = f"{svc.name}.{svc.namespace}.svc{self.suffix}"
        if not svc.headless:
            hits = [p for p in svc.ports if p.name == port and p.protocol == proto]
            if not hits or svc.external_name:
                return None
            extra = [_addr_record(base, ip, self.ttl) for ip in svc.cluster_ips]
            return [Record(name, "SRV", self.ttl, f"0 100 {p.port} {base}") for p in hits], extra
        targets: list[tuple[int, str, EndpointEntry]] = []
        for e in self._visible(svc):
            for p in e.ports:
                if p.name == port and p.protocol == proto:
                    targets.append((p.port, f"{e.label()}.{base}", e))
        if not targets:
            return ([], []) if any(p.name == port and p.protocol == proto for p in svc.ports) else None
        weight = max(1, 100 // len(targets))
        answer = [Record(name, "SRV", self.ttl, f"0 {weight} {p} {target}") for p, target, _ in targets]
        extra = [_addr_record(target, ip, self.ttl) for _, target, e in targets for ip in e.addresses]
        return answer, extra

    def _pod(self, name: str, labels: list[str]) -> tuple[list[Record], list[Record]] | None:
        if len(labels) == 2:
            return [], []
        if len(labels) != 3 or self.config.pods == "disabled":
            return None
        ip = _undash(labels[0])
        if ip is None or (self.config.pods == "verified" and (labels[1], ip) not in self.index.pod_ips):
            return None
        return [_addr_record(name, ip, self.ttl)], []


def lookup(index: ClusterIndex, config: ZoneConfig, qname: str, qtype: str) -> Answer | None:
    """Answer ``qname`` (any case, with or without the trailing dot) of type ``qtype``."""
    name = qname.lower().rstrip(".") + "."
    zone = _Zone(index, config)
    bare = name[:-1]
    if bare.endswith(".arpa"):
        ip = reverse_ip(bare)
        targets = index.reverse(ip) if ip else []
        if not targets:
            return None
        if qtype not in ("PTR", "ANY"):
            return Answer()
        return Answer(answer=[Record(name, "PTR", config.ttl, f"{t}{zone.suffix}") for t in targets])
    if bare == config.zone:
        labels: list[str] = []
    elif bare.endswith(zone.suffix[:-1]):
        labels = bare[: -len(zone.suffix) + 1].split(".")
    else:
        return None
    soa = [soa_record(config, index.generation)]
    found = zone.records(name, labels)
    if found is None:
        return Answer(rcode="NXDOMAIN", authority=soa)
    records, extra = found
    cname = next((r for r in records if r.rtype == "CNAME"), None)
    if cname is not None and qtype not in ("CNAME", "ANY"):
        out = Answer(answer=[cname])
        target = cname.value.rstrip(".")
        if target == config.zone or target.endswith(f".{config.zone}"):
            inner = lookup(index, config, target, qtype)
            if inner is not None:
                out.answer += inner.answer
                out.rcode, out.authority = inner.rcode, inner.authority
        else:
            out.chase = target
        return out
    hits = [r for r in records if qtype == "ANY" or r.rtype == qtype]
    if not hits:
        return Answer(authority=soa)
    return Answer(answer=hits, additional=extra if qtype in ("SRV", "ANY") else [])
