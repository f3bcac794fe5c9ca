"""The plugin registry: name -> plugin class, and the default profile (filter order)."""

from __future__ import annotations

from kprov.cluster.scheduler.framework import Plugin
from kprov.cluster.scheduler.plugins.balanced_allocation import BalancedAllocation
from kprov.cluster.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kprov.cluster.scheduler.plugins.node_affinity import NodeAffinity
from kprov.cluster.scheduler.plugins.node_name import NodeName
from kprov.cluster.scheduler.plugins.node_ports import NodePorts
from kprov.cluster.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kprov.cluster.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kprov.cluster.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kprov.cluster.scheduler.plugins.taint_toleration import TaintToleration
from kprov.cluster.scheduler.plugins.volume_binding import VolumeBinding

__all__ = ["DEFAULT_PLUGINS", "REGISTRY", "build_plugins"]

REGISTRY: dict[str, type[Plugin]] = {
    cls.name: cls
    for cls in (
        NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, VolumeBinding, NodePorts,
        NodeResourcesFit, PodTopologySpread, InterPodAffinity, BalancedAllocation,
    )
}

# Cheap, unresolvable checks first: the first failing filter is the node's reason.
DEFAULT_PLUGINS: tuple[str, ...] = tuple(REGISTRY)


def build_plugins(names: tuple[str, ...] = DEFAULT_PLUGINS, disabled: tuple[str, ...] = ()) -> list[Plugin]:
    unknown = [n for n in (*names, *disabled) if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown scheduler plugin(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    return [REGISTRY[n]() for n in names if n not in disabled]
