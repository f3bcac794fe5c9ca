"""Packet loss on the etcd peer links (issue 76): a fault of the links, not of a host.

Every etcd member's host drops a share of the TCP segments it *receives* to or from the peer port
(2380) at random (nftables' ``numgen random``, in the host's own network namespace, from this
machine as :class:`tests.faults.injectors.Partition` does): with the rule on every member, each
direction of every peer link loses that share. On arrival, not on departure: a segment dropped in
the sender's own output hook is a local send failure that the sender's TCP quietly tries again
(nothing counts it lost, nothing waits for a timeout), which is not what a lossy link does; one
that vanishes after it left is retransmitted on the sender's timers, as on a real network.
Client traffic (2379), the API servers' and everything else are untouched, so what is measured
is etcd's raft over lossy links.

Latency: ``tc netem`` needs the kernel's sch_netem, which this machine's kernel is built
without (CONFIG_NET_SCH_NETEM unset, no modules), and nftables cannot delay packets itself;
:mod:`tests.faults.peer_delay` queues them to a userspace holder instead.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

from kprov.lab import Lab

__all__ = ["PeerLinkLoss", "dropped_packets", "heal_rules", "peer_loss_rules"]

_TABLE = "kprov_fault_peer_loss"
ETCD_PEER_PORT = 2380


def peer_loss_rules(percent: int, port: int = ETCD_PEER_PORT) -> str:
    """The nftables script dropping ``percent`` % of the TCP segments arriving to or from ``port``."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent is 0..100, not {percent}")
    # numgen's value is 0..99: "< 100" is refused, and every segment is a plain drop
    share = "" if percent == 100 else f"numgen random mod 100 < {percent} "
    rules = [f"    tcp {way} {port} {share}counter drop" for way in ("dport", "sport")] if percent else []
    return "\n".join([
        f"table inet {_TABLE} {{",
        "  chain input { type filter hook input priority -300; policy accept;",
        *rules,
        "  }",
        "}", ""])


def heal_rules() -> str:
    # nftables 1.0.6 (Debian 12) has no "destroy": declaring the table first makes the delete idempotent
    return f"table inet {_TABLE} {{}}\ndelete table inet {_TABLE}\n"


@dataclass
class PeerLinkLoss:
    hosts: tuple[str, ...]
    percent: int
    dropped: dict[str, int] = field(default_factory=dict)  # per host, read at the heal

    @property
    def name(self) -> str:
        return f"{self.percent}% loss on the etcd peer links of {', '.join(self.hosts)}"

    def _nft(self, lab: Lab, host: str, script: str, *args: str) -> str:
        return subprocess.run(["ip", "netns", "exec", lab.layout.netns(host), "nft", *(args or ("-f", "-"))],
                              input=script, text=True, check=True, capture_output=True, timeout=30).stdout

    def inject(self, lab: Lab) -> None:
        for host in self.hosts:
            self._nft(lab, host, peer_loss_rules(self.percent))

    def heal(self, lab: Lab) -> None:
        for host in self.hosts:
            listed = self._nft(lab, host, "", "list", "table", "inet", _TABLE)
            self.dropped[host] = dropped_packets(listed)
            self._nft(lab, host, heal_rules())


def dropped_packets(listing: str) -> int:
    """The packets the rules' counters dropped, from ``nft list table``."""
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))
