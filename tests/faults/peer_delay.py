"""Latency on the etcd peer links (issue 76): every segment an etcd member's host sends to or
from the peer port (2380) is held ``delay_ms`` before it leaves.

This kernel has no sch_netem, so ``tc netem`` is out; its nftables has no native ``queue``
expression either, but xtables' NFQUEUE target works through ``iptables-nft``. So each member's
host (in its own network namespace, from this machine, as :mod:`tests.faults.peer_loss` does)
queues those segments to a queue whose holder, :mod:`tests.faults.nfqueue_delay` run from this
machine inside that namespace, accepts each one ``delay_ms`` late. With the rule on every
member, each direction of every peer link is ``delay_ms`` slower (a peer round trip 2x). The
heal removes the rules first, lets the queue drain, then stops the holders.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kprov.lab import Lab

__all__ = ["PeerLinkDelay"]

ETCD_PEER_PORT = 2380
QUEUE = 7
_ROOT = Path(__file__).resolve().parents[2]  # the checkout: the holder runs as tests.faults.nfqueue_delay


def _rules(action: str, port: int = ETCD_PEER_PORT) -> list[list[str]]:
    """The iptables-nft commands adding (``-I``) or deleting (``-D``) the queueing rules."""
    return [["iptables-nft", action, "OUTPUT", "-p", "tcp", way, str(port), "-j", "NFQUEUE",
             "--queue-num", str(QUEUE), "--queue-bypass"] for way in ("--dport", "--sport")]


@dataclass
class PeerLinkDelay:
    hosts: tuple[str, ...]
    delay_ms: int
    accepted: dict[str, int] = field(default_factory=dict)  # per host: segments delayed
    _holders: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.delay_ms} ms on the etcd peer links of {', '.join(self.hosts)}"

    def _in(self, lab: Lab, host: str, argv: list[str]) -> None:
        subprocess.run(["ip", "netns", "exec", lab.layout.netns(host), *argv], check=True,
                       capture_output=True, timeout=30)

    def inject(self, lab: Lab) -> None:
        for host in self.hosts:  # the holder first: a bound queue never drops what it gets
            argv = [sys.executable, "-m", "tests.faults.nfqueue_delay", "--queue", str(QUEUE),
                    "--delay-ms", str(self.delay_ms)]
            self._holders[host] = subprocess.Popen(
                ["ip", "netns", "exec", lab.layout.netns(host), *argv], cwd=_ROOT,
                stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        for host in self.hosts:
            for rule in _rules("-I"):
                self._in(lab, host, rule)

    def heal(self, lab: Lab) -> None:
        for host in self.hosts:
            for rule in _rules("-D"):
                self._in(lab, host, rule)
        time.sleep(self.delay_ms / 1000 + 0.5)  # what is queued leaves
        for host, holder in self._holders.items():
            holder.terminate()
            out, _ = holder.communicate(timeout=10)
            self.accepted[host] = int(out.strip().rsplit("=", 1)[-1] or 0) if "accepted=" in out else -1
        self._holders.clear()
