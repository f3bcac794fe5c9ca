"""Hollow nodes: many kubelet-shaped node agents in one process, for scale tests (kubemark's role).

:class:`HollowFleet` registers the Nodes, renews their Leases and "runs" the pods bound to
them (:mod:`.podlife`); ``kprov-hollow-nodes`` (:mod:`.__main__`) runs a fleet.
"""

from kprov.cluster.hollow.fleet import FleetConfig, HollowFleet
from kprov.cluster.hollow.podlife import decide, pod_ip

__all__ = ["FleetConfig", "HollowFleet", "decide", "pod_ip"]
