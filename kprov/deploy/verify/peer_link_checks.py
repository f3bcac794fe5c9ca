"""Segments lost on an etcd member's peer links, as its host's kernel counts them.

Raft hides loss on the peer links: TCP retransmits, heartbeats still arrive (late), and every
member stays healthy until elections start. The kernel counts each connection's retransmitted
segments; on a working network between the members that count does not move. The host's
established connections to or from the peer port are read twice (``ss -ti``), at the start and
the end of the host's other checks (at least ``SAMPLE_S`` apart), and the row fails when a
connection present both times retransmitted in between, naming the peers and how many.
``parse_retransmits`` is pure so tests can feed it ``ss`` output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kprov.deploy.verify.report import Check

__all__ = ["PEER_PORT", "SAMPLE_S", "parse_retransmits", "peer_link_check", "peer_links_command"]

PEER_PORT = 2380
SAMPLE_S = 2.0
_RETRANS = re.compile(r"\bretrans:\d+/(\d+)")


def peer_links_command(port: int = PEER_PORT) -> str:
    return f"ss -tinH state established '( sport = :{port} or dport = :{port} )'"


def parse_retransmits(text: str) -> dict[tuple[str, str], int]:
    """Per connection (local, remote address:port): its total retransmitted segments."""
    found: dict[tuple[str, str], int] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():  # the info line of the connection above
            if current is not None:
                match = _RETRANS.search(line)
                found[current] = int(match.group(1)) if match else 0
            continue
        fields = line.split()
        current = (fields[-2], fields[-1]) if len(fields) >= 2 else None
        if current is not None:
            found.setdefault(current, 0)
    return found


def _address(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")


def peer_link_check(host: str, before: Mapping[tuple[str, str], int], after: Mapping[tuple[str, str], int],
                    elapsed_s: float, port: int = PEER_PORT) -> Check:
    title = "etcd peer links lose no segments"
    lost: dict[str, int] = {}
    for connection, total in after.items():
        grew = total - before.get(connection, total)
        if grew > 0:
            peer = _address(connection[1])
            lost[peer] = lost.get(peer, 0) + grew
    if not lost:
        return Check(host, title, True, f"{len(after)} connections on port {port}, no retransmission "
                                        f"in {elapsed_s:.1f} s")
    per_peer = ", ".join(f"{peer}: {count}" for peer, count in sorted(lost.items()))
    return Check(host, title, False,
                 f"{sum(lost.values())} segments retransmitted on the peer links in {elapsed_s:.1f} s "
                 f"({per_peer}): packets between etcd members are being lost (check the network between "
                 f"them, firewalls and rate limits on port {port}); raft slows down, and elections follow "
                 "when heartbeats stop arriving")
