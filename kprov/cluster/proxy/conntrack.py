"""Stale UDP conntrack entries after endpoint changes (TCP needs nothing: it resets).

A UDP "connection" to a Service keeps its DNAT binding in conntrack for as long as packets
flow, so a client would keep sending to a removed endpoint forever. After each applied
sync, :func:`stale_udp_flows` compares the previous and the new service ports and returns
the ``conntrack -D`` arguments for: every removed endpoint of a UDP service port (by
clusterIP and by nodePort), and every UDP clusterIP that just got its first endpoint
(its entries were created while packets were rejected). :func:`delete_flows` runs them;
conntrack exits 1 when nothing matched, which is not an error.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable

from kprov.cluster.proxy.servicemap import ServicePort

__all__ = ["delete_flows", "stale_udp_flows"]

log = logging.getLogger(__name__)


def stale_udp_flows(old: Iterable[ServicePort], new: Iterable[ServicePort]) -> list[list[str]]:
    before = {sp.key: sp for sp in old if sp.protocol == "udp"}
    after = {sp.key: sp for sp in new if sp.protocol == "udp"}
    flows: list[list[str]] = []
    for key, previous in before.items():
        current = after.get(key)
        kept = {ep.ip for ep in current.endpoints} if current else set()
        for ip in sorted({ep.ip for ep in previous.endpoints} - kept):
            for cluster_ip in previous.cluster_ips:
                flows.append(["-p", "udp", "--orig-dst", cluster_ip, "--dst-nat", ip])
            if previous.node_port:
                flows.append(["-p", "udp", "--orig-port-dst", str(previous.node_port), "--dst-nat", ip])
    for key, current in after.items():
        previous_sp = before.get(key)
        if current.endpoints and (previous_sp is None or not previous_sp.endpoints):
            for cluster_ip in current.cluster_ips:
                flows.append(["-p", "udp", "--orig-dst", cluster_ip, "--orig-port-dst", str(current.port)])
    return flows


def delete_flows(flows: Iterable[list[str]], conntrack: str = "conntrack") -> None:
    for args in flows:
        try:
            result = subprocess.run([conntrack, "-D", *args], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            log.warning("conntrack is not installed: stale UDP flows stay until they time out")
            return
        if result.returncode not in (0, 1):
            log.warning("conntrack -D %s failed: %s", " ".join(args), result.stderr.strip())
