"""Client machinery shared by the scheduler, the controllers, the kubelet and kube-proxy.

- :class:`ApiClient` (rest.py): async HTTPS client loaded from a kubeconfig, server failover.
- :class:`Informer` (informer.py) + :class:`Store` (store.py): list/watch into an indexed cache.
- :class:`WorkQueue` (workqueue.py) and :func:`run_workers` (runner.py): dedup queue, reconcile loops.
- :class:`LeaderElector` (leader.py): Lease-based leader election.
- :class:`EventRecorder` (events.py): core/v1 Events.

The names below are imported on first use: ``python -m kprov.cluster.kubelet.node.readycheck``,
which the kubelet role's health handler runs about once a second on every node after each
(re)start, needs only the kubeconfig loader, and importing the whole client (aiohttp) up
front cost every run that CPU again, on every node (docs/decisions/0003).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprov.cluster.client import resources
    from kprov.cluster.client.errors import (
        AlreadyExists,
        ApiError,
        Conflict,
        Gone,
        NotFound,
        ServerUnavailable,
    )
    from kprov.cluster.client.events import EventRecorder, object_reference
    from kprov.cluster.client.informer import EventHandler, Informer
    from kprov.cluster.client.kubeconfig import ClientConfig, KubeconfigError, load_kubeconfig, ssl_context
    from kprov.cluster.client.leader import (
        LeaderElectionConfig,
        LeaderElector,
        LeadershipLost,
        default_identity,
    )
    from kprov.cluster.client.resources import Resource
    from kprov.cluster.client.rest import ApiClient, WatchEvent
    from kprov.cluster.client.runner import run_workers
    from kprov.cluster.client.store import Store, index_by_namespace, index_by_node_name, object_key
    from kprov.cluster.client.workqueue import QueueShutDown, WorkQueue

__all__ = [
    "AlreadyExists",
    "ApiClient",
    "ApiError",
    "ClientConfig",
    "Conflict",
    "EventHandler",
    "EventRecorder",
    "Gone",
    "Informer",
    "KubeconfigError",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeadershipLost",
    "NotFound",
    "QueueShutDown",
    "Resource",
    "ServerUnavailable",
    "Store",
    "WatchEvent",
    "WorkQueue",
    "default_identity",
    "index_by_namespace",
    "index_by_node_name",
    "load_kubeconfig",
    "object_key",
    "object_reference",
    "resources",
    "run_workers",
    "ssl_context",
]

_HOMES = {
    "AlreadyExists": "kprov.cluster.client.errors",
    "ApiError": "kprov.cluster.client.errors",
    "Conflict": "kprov.cluster.client.errors",
    "Gone": "kprov.cluster.client.errors",
    "NotFound": "kprov.cluster.client.errors",
    "ServerUnavailable": "kprov.cluster.client.errors",
    "EventRecorder": "kprov.cluster.client.events",
    "object_reference": "kprov.cluster.client.events",
    "EventHandler": "kprov.cluster.client.informer",
    "Informer": "kprov.cluster.client.informer",
    "ClientConfig": "kprov.cluster.client.kubeconfig",
    "KubeconfigError": "kprov.cluster.client.kubeconfig",
    "load_kubeconfig": "kprov.cluster.client.kubeconfig",
    "ssl_context": "kprov.cluster.client.kubeconfig",
    "LeaderElectionConfig": "kprov.cluster.client.leader",
    "LeaderElector": "kprov.cluster.client.leader",
    "LeadershipLost": "kprov.cluster.client.leader",
    "default_identity": "kprov.cluster.client.leader",
    "Resource": "kprov.cluster.client.resources",
    "ApiClient": "kprov.cluster.client.rest",
    "WatchEvent": "kprov.cluster.client.rest",
    "run_workers": "kprov.cluster.client.runner",
    "Store": "kprov.cluster.client.store",
    "index_by_namespace": "kprov.cluster.client.store",
    "index_by_node_name": "kprov.cluster.client.store",
    "object_key": "kprov.cluster.client.store",
    "QueueShutDown": "kprov.cluster.client.workqueue",
    "WorkQueue": "kprov.cluster.client.workqueue",
}


def __getattr__(name: str) -> Any:
    if name == "resources":
        return importlib.import_module("kprov.cluster.client.resources")
    if name not in _HOMES:
        raise AttributeError(f"module 'kprov.cluster.client' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
