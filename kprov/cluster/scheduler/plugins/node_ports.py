"""NodePorts: a host port (protocol, port) can be used once per node; a wildcard host IP
(0.0.0.0) conflicts with every IP on that port."""

from __future__ import annotations

from collections.abc import Sequence

from kprov.cluster.scheduler.cache import NodeInfo, SchedulerCache
from kprov.cluster.scheduler.framework import NO_REASONS, CycleState, Plugin
from kprov.cluster.scheduler.podinfo import PodInfo

__all__ = ["NodePorts"]

_REASON = ("node(s) didn't have free ports for the requested pod ports",)
_ANY = "0.0.0.0"


class NodePorts(Plugin):
    name = "NodePorts"
    has_filter = True

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: SchedulerCache) -> bool:
        return bool(pod.host_ports)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Sequence[str]:
        if not pod.host_ports or not node.ports:
            return NO_REASONS
        for proto, ip, port in pod.host_ports:
            for used_proto, used_ip, used_port in node.ports:
                if used_port == port and used_proto == proto and (ip == used_ip or _ANY in (ip, used_ip)):
                    return _REASON
        return NO_REASONS
