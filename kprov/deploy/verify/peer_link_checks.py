"""Segments lost on an etcd member's peer links, as its host's kernel counts them.

Raft hides loss on the peer links: TCP retransmits, heartbeats still arrive (late), and every
member stays healthy until elections start. The kernel counts each connection's retransmitted
segments, and the duplicates its peer reported receiving (D-SACK: a retransmission that was not
needed, a tail-loss probe or a timeout fired while an ACK was late on a loaded host).
Retransmitted less duplicated is what the link lost; on a working network between the members
it stays near 0. The host's established connections to or from the peer port are read twice
(``ss -ti``), at the start and the end of the host's other checks (at least ``SAMPLE_S``
apart), and the row fails when the connections present both times lost at least
``LOSS_MIN_SEGMENTS`` segments and ``LOSS_SHARE`` of the data segments they sent in between (a
share the usual retransmission alerts use), naming the peers and how many. ``parse_retransmits``
is pure so tests can feed it ``ss`` output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kprov.deploy.verify.report import Check

__all__ = ["LOSS_MIN_SEGMENTS", "LOSS_SHARE", "PEER_PORT", "SAMPLE_S", "parse_retransmits", "peer_link_check",
           "peer_links_command"]

PEER_PORT = 2380
SAMPLE_S = 2.0
LOSS_MIN_SEGMENTS = 3
LOSS_SHARE = 0.02
_RETRANS = re.compile(r"\bretrans:\d+/(\d+)")
_SEGS_OUT = re.compile(r"\bdata_segs_out:(\d+)")
_DUPLICATES = re.compile(r"\bdsack_dups:(\d+)")


def peer_links_command(port: int = PEER_PORT) -> str:
    return f"ss -tinH state established '( sport = :{port} or dport = :{port} )'"


def parse_retransmits(text: str) -> dict[tuple[str, str], tuple[int, int]]:
    """Per connection (local, remote address:port): (segments retransmitted and not reported as
    duplicates by the peer, data segments sent), totals."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():  # the info line of the connection above
            if current is not None:
                retrans, sent, dups = (r.search(line) for r in (_RETRANS, _SEGS_OUT, _DUPLICATES))
                lost = (int(retrans.group(1)) if retrans else 0) - (int(dups.group(1)) if dups else 0)
                found[current] = (max(0, lost), int(sent.group(1)) if sent else 0)
            continue
        fields = line.split()
        current = (fields[-2], fields[-1]) if len(fields) >= 2 else None
        if current is not None:
            found.setdefault(current, (0, 0))
    return found


def _address(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")


Totals = Mapping[tuple[str, str], tuple[int, int]]


def peer_link_check(host: str, before: Totals, after: Totals, elapsed_s: float,
                    port: int = PEER_PORT) -> Check:
    title = "etcd peer links lose no segments"
    lost: dict[str, int] = {}
    sent = 0
    for connection, (retrans, segments) in after.items():
        if connection not in before:  # new in between: its history is unknown
            continue
        was_retrans, was_sent = before[connection]
        sent += max(0, segments - was_sent)
        if retrans > was_retrans:
            peer = _address(connection[1])
            lost[peer] = lost.get(peer, 0) + retrans - was_retrans
    total = sum(lost.values())
    share = total / sent if sent else 0.0
    if total < LOSS_MIN_SEGMENTS or share < LOSS_SHARE:
        return Check(host, title, True, f"{len(after)} connections on port {port}: {total} of {sent} "
                                        f"data segments retransmitted in {elapsed_s:.1f} s")
    per_peer = ", ".join(f"{peer}: {count}" for peer, count in sorted(lost.items()))
    return Check(host, title, False,
                 f"{total} of {sent} data segments ({share:.0%}) lost and retransmitted on the peer links in "
                 f"{elapsed_s:.1f} s "
                 f"({per_peer}): packets between etcd members are being lost (check the network between "
                 f"them, firewalls and rate limits on port {port}); raft slows down, and elections follow "
                 "when heartbeats stop arriving")
