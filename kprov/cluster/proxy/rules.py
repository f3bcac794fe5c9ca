"""The complete desired nftables ruleset of one node, as pure data.

:func:`compute_ruleset` maps service ports (see :mod:`.servicemap`) and the node's settings
to a :class:`~kprov.cluster.nftables.ruleset.Ruleset`: named chains (rule text), named
sets/maps (declarations) and their elements. Nothing here touches the system;
:mod:`kprov.cluster.nftables.apply` renders a ruleset, or the difference between two, as one
``nft -f`` transaction.

Shape of table ``ip kprov`` (close to upstream kube-proxy's nftables mode):

- base chains ``nat-prerouting`` / ``nat-output`` jump to ``services``, which looks the
  packet up in two verdict maps: ``service-ips`` (clusterIP . proto . port) and, for
  packets to one of the node's addresses (set ``nodeport-ips``), ``service-nodeports``
  (proto . nodePort). Both ``goto`` one chain per service port.
- a service chain marks traffic from outside the cluster CIDR for masquerading, then DNATs
  to a ready endpoint chosen by ``numgen random mod N`` through an anonymous map of
  ``ip . port`` (one rule, no per-endpoint chains). With ClientIP session affinity it uses
  one chain per endpoint instead, each recording the client in a timed set that the
  service chain checks first.
- a LoadBalancer Service's ingress addresses (``status.loadBalancer.ingress[].ip`` with
  ipMode VIP) and any Service's ``spec.externalIPs`` are keys of ``service-ips`` too,
  leading to its ``ext-`` chain (external traffic, as upstream's).
- NodePort traffic goes through an ``ext-`` chain that always marks for masquerading (the
  reply must come back through this node), then to the service chain; with
  externalTrafficPolicy Local it DNATs to this node's endpoints only, unmasqueraded (or
  drops when there are none), pods' traffic excepted.
- internalTrafficPolicy Local: the cluster IPs go to an ``svl-`` chain that DNATs to this
  node's endpoints only (ready, else serving while terminating) and drops when it has none,
  as upstream's "has no local endpoints"; node ports and load-balancer IPs keep theirs.
- a service port without ready (or serving terminating) endpoints is in ``no-endpoint-services`` /
  ``no-endpoint-nodeports``; the filter base chains send new connections to them to
  ``reject-chain`` (TCP reset, else ICMP port unreachable), so clients fail at once.
- ``nat-postrouting`` masquerades marked packets, hairpin traffic (a pod reaching itself
  through its service; set ``hairpin`` of endpoint . endpoint pairs) and pod traffic
  leaving the cluster CIDR.

Families are data (:class:`Family`): a dual-stack node has one ruleset per family, the IPv6
one for table ``ip6 kprov`` with the same chains over ``ip6`` matches and ``ipv6_addr``
keys, computed from that family's service ports (as upstream's nftables mode, which has an
``ip6 kube-proxy`` table beside ``ip kube-proxy``). The IPv4 ruleset is unchanged by it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kprov.cluster.nftables.ruleset import FAMILIES, Family, NamedSet, Ruleset, Touched
from kprov.cluster.proxy.servicemap import Endpoint, ServicePort

__all__ = [
    "ProxySettings",
    "RulesCompiler",
    "compute_ruleset",
    "service_fragment",
    "table_name",
    "TABLE",
    "MASQ_MARK",
]

TABLE = "kprov"
MASQ_MARK = 0x4000
_MAX_NAME = 200




def table_name(family: int) -> str:
    """The ``family name`` of kube-proxy's table for ``family`` (``ip kprov``, ``ip6 kprov``)."""
    return f"{FAMILIES[family].table_family} {TABLE}"


@dataclass(frozen=True)
class ProxySettings:
    node_ips: tuple[str, ...] = ()  # of this family
    cluster_cidr: str = ""  # of this family; "" = masquerade all service traffic (no pod CIDR known)
    node_name: str = ""  # this node, for externalTrafficPolicy Local
    family: int = 4  # 4 or 6: which table (``ip``/``ip6 kprov``) these rules are for

    @property
    def nft(self) -> Family:
        return FAMILIES[self.family]


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9/_.\\-]")


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def _chain_name(prefix: str, key: str) -> str:
    """A readable, unique nft identifier: the hash keeps it unique, the key is made nft-safe.

    nft identifiers take letters, digits and ``/ \\ _ .`` (and ``-``): an endpoint's
    ``ip:port`` (or an IPv6 address) would be a syntax error that fails the whole transaction,
    so ``:`` becomes ``/`` and anything else unsafe becomes ``_``.
    """
    readable = _UNSAFE_IN_NAME.sub("_", key.replace(":", "/"))
    return f"{prefix}-{_hash(prefix + key)}-{readable}"[:_MAX_NAME]


def _static(ruleset: Ruleset, settings: ProxySettings) -> None:
    addr, ip = settings.nft.addr_type, settings.nft.table_family
    for named in (
        NamedSet("service-ips", f"{addr} . inet_proto . inet_service : verdict"),
        NamedSet("service-nodeports", "inet_proto . inet_service : verdict"),
        NamedSet("no-endpoint-services", f"{addr} . inet_proto . inet_service : verdict"),
        NamedSet("no-endpoint-nodeports", "inet_proto . inet_service : verdict"),
        NamedSet("nodeport-ips", addr),
        NamedSet("hairpin", f"{addr} . {addr}"),
    ):
        ruleset.add_set(named)
    for node_ip in settings.node_ips:
        ruleset.add_element("nodeport-ips", node_ip)
    nat = "type nat hook {hook} priority {prio}; policy accept;"
    new_conn = ("ct state new jump endpoints-check",)
    ruleset.add_chain("nat-prerouting", ["jump services"], nat.format(hook="prerouting", prio="dstnat"))
    ruleset.add_chain("nat-output", ["jump services"], nat.format(hook="output", prio="-100"))
    ruleset.add_chain("nat-postrouting", ["jump masquerading"], nat.format(hook="postrouting", prio="srcnat"))
    for hook in ("input", "forward", "output"):
        filter_hook = f"type filter hook {hook} priority -110; policy accept;"
        # forwarded packets conntrack calls invalid (out of the TCP window) are dropped: let
        # through, the DNAT is not reversed on them and the client resets the connection
        # (upstream's kube-proxy, issue 74839)
        rules = ("ct state invalid drop", *new_conn) if hook == "forward" else new_conn
        ruleset.add_chain(f"filter-{hook}", rules, filter_hook)
    ruleset.add_chain(
        "services",
        [
            f"{ip} daddr . meta l4proto . th dport vmap @service-ips",
            f"{ip} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
        ],
    )
    ruleset.add_chain(
        "endpoints-check",
        [
            f"{ip} daddr . meta l4proto . th dport vmap @no-endpoint-services",
            f"{ip} daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
        ],
    )
    ruleset.add_chain("reject-chain", ["meta l4proto tcp reject with tcp reset", "reject"])
    ruleset.add_chain("mark-for-masquerade", [f"meta mark set meta mark | {MASQ_MARK:#x}"])
    masquerading = [
        f"meta mark & {MASQ_MARK:#x} == {MASQ_MARK:#x} masquerade fully-random",
        f"ct status dnat {ip} saddr . {ip} daddr @hairpin masquerade",
    ]
    if settings.cluster_cidr:
        masquerading.append(
            f"{ip} saddr {settings.cluster_cidr} {ip} daddr != {settings.cluster_cidr} masquerade"
        )
    ruleset.add_chain("masquerading", masquerading)


def _dnat(protocol: str, endpoints: tuple[Endpoint, ...], family: Family = FAMILIES[4]) -> str:
    if len(endpoints) == 1:
        return f"meta l4proto {protocol} dnat to {family.endpoint(endpoints[0].ip, endpoints[0].port)}"
    choices = ", ".join(f"{i} : {ep.ip} . {ep.port}" for i, ep in enumerate(endpoints))
    return f"meta l4proto {protocol} dnat to numgen random mod {len(endpoints)} map {{ {choices} }}"


def _masquerade_rule(settings: ProxySettings) -> str:
    if settings.cluster_cidr:
        return f"{settings.nft.table_family} saddr != {settings.cluster_cidr} jump mark-for-masquerade"
    return "jump mark-for-masquerade"


def _affinity_chains(ruleset: Ruleset, sp: ServicePort, service_chain: str, family: Family) -> list[str]:
    """Per-endpoint chains recording clients; returns the service chain's balancing rules."""
    ip = family.table_family
    sticky: list[str] = []
    picks: list[str] = []
    for i, ep in enumerate(sp.endpoints):
        target = f"{sp.key}/{ep.ip}:{ep.port}"
        chain, affinity = _chain_name("ep", target), f"aff-{_hash(service_chain + target)}"
        ruleset.add_set(NamedSet(affinity, family.addr_type, "dynamic,timeout", sp.affinity_timeout))
        ruleset.add_chain(
            chain, [f"update @{affinity} {{ {ip} saddr }}", _dnat(sp.protocol, (ep,), family)]
        )
        sticky.append(f"{ip} saddr @{affinity} goto {chain}")
        picks.append(f"{i} : goto {chain}")
    return [*sticky, f"numgen random mod {len(picks)} vmap {{ {', '.join(picks)} }}"]


def _local_endpoints(sp: ServicePort, settings: ProxySettings) -> tuple[Endpoint, ...]:
    """This node's ready endpoints, else its ones serving while terminating (as upstream)."""
    def here(endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        return tuple(ep for ep in endpoints if settings.node_name and ep.node == settings.node_name)

    return here(tuple(ep for ep in sp.endpoints if ep.ready)) or here(sp.terminating_endpoints)


def _external_rules(sp: ServicePort, settings: ProxySettings, service_chain: str) -> list[str]:
    """NodePort/load-balancer traffic: masqueraded over all endpoints (policy Cluster), or
    with policy Local kept unmasqueraded (the client's source IP reaches the pod) and sent
    only to this node's endpoints, dropped when it has none; pods' own traffic still uses
    every endpoint, as upstream's short-circuit does."""
    if not sp.external_local:
        return ["jump mark-for-masquerade", f"goto {service_chain}"]
    local = _local_endpoints(sp, settings)
    ip = settings.nft.table_family
    rules = [f"{ip} saddr {settings.cluster_cidr} goto {service_chain}"] if settings.cluster_cidr else []
    return [*rules, _dnat(sp.protocol, local, settings.nft) if local else "drop"]


def service_fragment(sp: ServicePort, settings: ProxySettings) -> Ruleset:
    """The chains, sets and map elements one service port adds to the static table."""
    ruleset = Ruleset()
    proto = sp.protocol
    if not sp.endpoints:
        for ip in sp.cluster_ips:
            ruleset.add_element("no-endpoint-services", f"{ip} . {proto} . {sp.port}", "goto reject-chain")
        for ip in (*sp.load_balancer_ips, *sp.external_ips):
            ruleset.add_element("no-endpoint-services", f"{ip} . {proto} . {sp.port}", "goto reject-chain")
        if sp.node_port:
            ruleset.add_element("no-endpoint-nodeports", f"{proto} . {sp.node_port}", "goto reject-chain")
        return ruleset
    chain = _chain_name("svc", sp.key)
    family = settings.nft
    balance = (_affinity_chains(ruleset, sp, chain, family) if sp.affinity_timeout
               else [_dnat(proto, sp.endpoints, family)])
    ruleset.add_chain(chain, [_masquerade_rule(settings), *balance])
    internal = chain
    if sp.internal_local:  # cluster-IP traffic only to this node's endpoints; none: dropped
        internal = _chain_name("svl", sp.key)
        local = _local_endpoints(sp, settings)
        dnat = _dnat(proto, local, family) if local else "drop"
        ruleset.add_chain(internal, [_masquerade_rule(settings), dnat])
    for ip in sp.cluster_ips:
        ruleset.add_element("service-ips", f"{ip} . {proto} . {sp.port}", f"goto {internal}")
    if sp.node_port or sp.load_balancer_ips or sp.external_ips:
        external = _chain_name("ext", sp.key)
        ruleset.add_chain(external, _external_rules(sp, settings, chain))
        if sp.node_port:
            ruleset.add_element("service-nodeports", f"{proto} . {sp.node_port}", f"goto {external}")
        for ip in (*sp.load_balancer_ips, *sp.external_ips):
            ruleset.add_element("service-ips", f"{ip} . {proto} . {sp.port}", f"goto {external}")
    for ep in sp.endpoints:
        ruleset.add_element("hairpin", f"{ep.ip} . {ep.ip}")
    return ruleset


def compute_ruleset(service_ports: Iterable[ServicePort], settings: ProxySettings) -> Ruleset:
    """The whole table for these service ports; equal inputs give equal rulesets."""
    ruleset = Ruleset()
    _static(ruleset, settings)
    for sp in service_ports:
        ruleset.merge(service_fragment(sp, settings))
    return ruleset


class RulesCompiler:
    """:func:`compute_ruleset`, maintained incrementally between calls.

    Service ports are frozen values: an unchanged one keeps its fragment. Each call takes
    out the fragments of service ports that are gone or changed and puts in the new ones
    (elements shared by several services, such as hairpin pairs, are reference counted),
    so one endpoint change costs one service's work plus dictionary copies. The returned
    ruleset equals :func:`compute_ruleset`'s and carries ``touched``: the chains, sets and
    elements that may differ from the previous result (``previous``), so the renderer
    compares only those.
    """

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self._fragments: dict[str, tuple[ServicePort, Ruleset]] = {}  # by service port key
        base = Ruleset()
        _static(base, settings)
        self._chains = dict(base.chains)
        self._sets = dict(base.sets)
        self._elements = {name: dict(items) for name, items in base.elements.items()}
        self._refs: dict[tuple[str, str], int] = {}
        self._last: Ruleset | None = None

    def _take_out(self, fragment: Ruleset, touched: Touched) -> None:
        for name in fragment.chains:
            self._chains.pop(name, None)
            touched.chains.add(name)
        for name in fragment.sets:
            self._sets.pop(name, None)
            touched.sets.add(name)
        for set_name, items in fragment.elements.items():
            for key in items:
                ref = (set_name, key)
                self._refs[ref] -= 1
                if not self._refs[ref]:
                    del self._refs[ref]
                    self._elements[set_name].pop(key, None)
                touched.elements.add(ref)

    def _put_in(self, fragment: Ruleset, touched: Touched | None) -> None:
        self._chains.update(fragment.chains)
        self._sets.update(fragment.sets)
        if touched is not None:
            touched.chains.update(fragment.chains)
            touched.sets.update(fragment.sets)
        refs = self._refs
        for set_name, items in fragment.elements.items():
            self._elements.setdefault(set_name, {}).update(items)
            for key in items:
                ref = (set_name, key)
                refs[ref] = refs.get(ref, 0) + 1
                if touched is not None:
                    touched.elements.add(ref)

    def compute(self, service_ports: Iterable[ServicePort]) -> Ruleset:
        touched = Touched()
        fragments: dict[str, tuple[ServicePort, Ruleset]] = {}
        fresh: list[Ruleset] = []
        for sp in service_ports:
            known = self._fragments.get(sp.key)
            if known is None or not (known[0] is sp or known[0] == sp):
                known = (sp, service_fragment(sp, self.settings))
                fresh.append(known[1])
            fragments[sp.key] = known
        for key, (_sp, fragment) in self._fragments.items():
            if fragments.get(key, (None, None))[1] is not fragment:
                self._take_out(fragment, touched)
        for fragment in fresh:  # the first call needs no hint: it is a full sync anyway
            self._put_in(fragment, touched if self._last is not None else None)
        self._fragments = fragments
        result = Ruleset(
            dict(self._chains),
            dict(self._sets),
            {name: dict(items) for name, items in self._elements.items()},
        )
        if self._last is not None:
            self._last.previous = None  # keep one link only
            result.previous, result.touched = self._last, touched
        self._last = result
        return result
