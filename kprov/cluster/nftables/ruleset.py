"""The nftables data model every node agent programs: a table as pure data.

A :class:`Ruleset` is one table's named chains (rule text), named sets and maps
(declarations) and their elements; a :class:`Family` says how an address family is spelled
(``ip``/``ip6`` tables, ``ipv4_addr``/``ipv6_addr`` keys). kube-proxy's rules
(:mod:`kprov.cluster.proxy.rules`) and the NetworkPolicy agent's
(:mod:`kprov.cluster.netpol.compiler`) both compute one; :mod:`.apply` renders and applies it.
Nothing here touches the system.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Chain", "FAMILIES", "Family", "NamedSet", "Ruleset", "Touched"]


@dataclass(frozen=True)
class Chain:
    name: str
    rules: tuple[str, ...]
    hook: str = ""  # "type nat hook prerouting priority dstnat; policy accept;" for base chains


@dataclass(frozen=True)
class NamedSet:
    name: str
    type: str  # e.g. "ipv4_addr . inet_proto . inet_service : verdict"
    flags: str = ""
    timeout: int = 0

    @property
    def declaration(self) -> str:
        parts = [f"type {self.type};"]
        if self.flags:
            parts.append(f"flags {self.flags};")
        if self.timeout:
            parts.append(f"timeout {self.timeout}s;")
        return " ".join(parts)


@dataclass(frozen=True)
class Family:
    """How one address family is spelled in nft: its table family, match and key type."""

    version: int
    table_family: str  # "ip" | "ip6": the table's family, and the address match's protocol
    addr_type: str  # "ipv4_addr" | "ipv6_addr"

    def endpoint(self, ip: str, port: int) -> str:
        """``ip:port`` as a dnat target (an IPv6 address in brackets)."""
        return f"[{ip}]:{port}" if self.version == 6 else f"{ip}:{port}"


FAMILIES = {4: Family(4, "ip", "ipv4_addr"), 6: Family(6, "ip6", "ipv6_addr")}


@dataclass
class Touched:
    """Names that may differ between two rulesets (a hint; anything else is equal)."""

    chains: set[str] = field(default_factory=set)
    sets: set[str] = field(default_factory=set)
    elements: set[tuple[str, str]] = field(default_factory=set)  # (set name, key)


@dataclass
class Ruleset:
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, NamedSet] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # set -> key -> value ("" for sets)
    # Set by RulesCompiler: the ruleset this one was derived from, and what may differ.
    previous: Ruleset | None = field(default=None, compare=False, repr=False)
    touched: Touched | None = field(default=None, compare=False, repr=False)

    def add_chain(self, name: str, rules: Iterable[str], hook: str = "") -> None:
        self.chains[name] = Chain(name, tuple(rules), hook)

    def add_set(self, named: NamedSet) -> None:
        self.sets[named.name] = named
        self.elements.setdefault(named.name, {})

    def add_element(self, set_name: str, key: str, value: str = "") -> None:
        self.elements.setdefault(set_name, {})[key] = value

    def merge(self, other: Ruleset) -> None:
        """Add another ruleset's chains, sets and elements (a service's fragment)."""
        self.chains.update(other.chains)
        self.sets.update(other.sets)
        for set_name, items in other.elements.items():
            self.elements.setdefault(set_name, {}).update(items)
