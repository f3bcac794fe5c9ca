"""One proxier per address family: a dual-stack node programs ``ip kprov`` and ``ip6 kprov``.

Upstream's kube-proxy runs a "meta proxier" over two single-family proxiers; kprov does the
same with data: :func:`families` reads the node's addresses and the cluster CIDRs (comma
lists, primary family first) and says which families this node serves; each
:class:`FamilyProxier` owns that family's rules compiler, nft writer (its own table) and
the service ports it last applied, and syncs from the tracker's service ports of its
family. A node with no IPv6 address and no IPv6 cluster CIDR has one IPv4 proxier, so an
IPv4-only cluster programs exactly the one table it always did.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kprov.cluster.nftables.apply import NftApplier
from kprov.cluster.proxy.conntrack import delete_flows, stale_udp_flows
from kprov.cluster.proxy.rules import ProxySettings, RulesCompiler, table_name
from kprov.cluster.proxy.servicemap import ServicePort

__all__ = ["FamilyProxier", "by_family", "families", "family_settings", "sync_families"]


def _version(text: str) -> int:
    return ipaddress.ip_network(text, strict=False).version


def by_family(values: Iterable[str]) -> dict[int, list[str]]:
    """Addresses or CIDRs filed by family (4 or 6), each list in the order given."""
    filed: dict[int, list[str]] = {}
    for value in values:
        if value:
            filed.setdefault(_version(value), []).append(value)
    return filed


def families(node_ips: Sequence[str], cluster_cidrs: Sequence[str]) -> tuple[int, ...]:
    """The families this node proxies, primary (the first CIDR's, else the first address's)
    first; IPv4 alone when nothing says otherwise."""
    found: list[int] = []
    for value in (*cluster_cidrs, *node_ips):
        if value and _version(value) not in found:
            found.append(_version(value))
    return tuple(found) or (4,)


def family_settings(
    family: int, node_ips: Sequence[str], cluster_cidrs: Sequence[str], node_name: str
) -> ProxySettings:
    """The settings of one family's rules: its node addresses and its (first) cluster CIDR."""
    cidrs = by_family(cluster_cidrs).get(family, [])
    return ProxySettings(
        node_ips=tuple(by_family(node_ips).get(family, [])),
        cluster_cidr=cidrs[0] if cidrs else "",
        node_name=node_name,
        family=family,
    )


@dataclass
class FamilyProxier:
    """One family's rules: compiled incrementally, applied to its own table."""

    family: int
    applier: NftApplier = field(init=False)
    compiler: RulesCompiler | None = None
    applied_ports: list[ServicePort] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.applier = NftApplier(table=self.table)

    @property
    def table(self) -> str:
        return table_name(self.family)

    def sync(self, settings: ProxySettings, ports: list[ServicePort]) -> str:
        """Bring the family's table to these ports; "unchanged", "delta" or "full"."""
        if self.compiler is None or self.compiler.settings != settings:
            self.compiler = RulesCompiler(settings)
            self.applier.forget()
        outcome = self.applier.apply(self.compiler.compute(ports))
        delete_flows(stale_udp_flows(self.applied_ports, ports))
        self.applied_ports = ports
        return outcome

    def table_present(self) -> bool:
        family, name = self.table.split()
        command = ["nft", "list", "chain", family, name, "services"]
        result = subprocess.run(command, capture_output=True, check=False)
        return result.returncode == 0

    def reset(self) -> None:
        """After a failed sync: the next one is full and recompiles everything."""
        self.applier.forget()
        self.compiler = None


def sync_families(
    proxiers: Sequence[FamilyProxier], settings: Sequence[ProxySettings], ports: Sequence[list[ServicePort]]
) -> list[str]:
    """Sync every family's table; two families at once (each ``nft -f`` is its own process
    and the kernel commits each table's transaction on its own), one in this thread."""
    jobs = list(zip(proxiers, settings, ports, strict=True))
    if len(jobs) == 1:
        return [jobs[0][0].sync(jobs[0][1], jobs[0][2])]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="kprov-proxy-family") as pool:
        futures = [pool.submit(proxier.sync, s, p) for proxier, s, p in jobs]
        return [future.result() for future in futures]
