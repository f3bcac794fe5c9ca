"""One proxier per address family: a dual-stack node programs ``ip kprov`` and ``ip6 kprov``.

Upstream's kube-proxy runs a "meta proxier" over two single-family proxiers; kprov does the
same with data: :func:`families` reads the node's addresses and the cluster CIDRs (comma
lists, primary family first) and says which families this node serves; each
:class:`FamilyProxier` owns that family's rules compiler, nft writer (its own table) and
the service ports it last applied, and syncs from the tracker's service ports of its
family (:func:`sync_families` pipelines them: one family's nft runs while the next
one's rules are compiled). A node with no IPv6 address and no IPv6 cluster CIDR has one
IPv4 proxier, so an IPv4-only cluster programs exactly the one table it always did.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kprov.cluster.nftables.apply import NftApplier, PendingApply
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

    def start(self, settings: ProxySettings, ports: list[ServicePort]) -> PendingApply:
        """Compile the family's rules for these ports and start nft on them."""
        if self.compiler is None or self.compiler.settings != settings:
            self.compiler = RulesCompiler(settings)
            self.applier.forget()
        return self.applier.start(self.compiler.compute(ports))

    def finish(self, pending: PendingApply, ports: list[ServicePort]) -> str:
        """Wait for :meth:`start`'s nft; "unchanged", "delta" or "full"."""
        outcome = pending.finish()
        delete_flows(stale_udp_flows(self.applied_ports, ports))
        self.applied_ports = ports
        return outcome

    def sync(self, settings: ProxySettings, ports: list[ServicePort]) -> str:
        """Bring the family's table to these ports; "unchanged", "delta" or "full"."""
        return self.finish(self.start(settings, ports), ports)

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
    proxiers: Sequence[FamilyProxier],
    settings: Sequence[ProxySettings],
    ports_of: Callable[[int], list[ServicePort]],
) -> list[str]:
    """Sync every family's table as a pipeline: the primary family's nft parses and commits
    its table while this thread computes the next family's service ports (``ports_of``) and
    rules, then all are waited for in order (the first failure is raised once every nft has
    ended). Each proxier's ``applied_ports`` is then what its table holds. Two tables, two
    transactions: one ``nft -f`` carrying both was slower (the kernel commits a batch under
    one lock either way, and one process parses both tables on one core)."""
    started: list[tuple[FamilyProxier, PendingApply, list[ServicePort]]] = []
    try:
        for proxier, family_settings_ in zip(proxiers, settings, strict=True):
            ports = ports_of(proxier.family)
            started.append((proxier, proxier.start(family_settings_, ports), ports))
    finally:
        outcomes: list[str] = []
        failure: BaseException | None = None
        for proxier, pending, ports in started:
            try:
                outcomes.append(proxier.finish(pending, ports))
            except Exception as exc:  # wait for the others before raising
                failure = failure or exc
        if failure is not None:
            raise failure
    return outcomes
