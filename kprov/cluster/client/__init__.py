"""Client machinery shared by the scheduler, the controllers, the kubelet and kube-proxy.

- :class:`ApiClient` (rest.py): async HTTPS client loaded from a kubeconfig, server failover.
- :class:`Informer` (informer.py) + :class:`Store` (store.py): list/watch into an indexed cache.
- :class:`WorkQueue` (workqueue.py) and :func:`run_workers` (runner.py): dedup queue, reconcile loops.
- :class:`LeaderElector` (leader.py): Lease-based leader election.
- :class:`EventRecorder` (events.py): core/v1 Events.
"""

from kprov.cluster.client import resources
from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, Gone, NotFound, ServerUnavailable
from kprov.cluster.client.events import EventRecorder, object_reference
from kprov.cluster.client.informer import EventHandler, Informer
from kprov.cluster.client.kubeconfig import ClientConfig, KubeconfigError, load_kubeconfig, ssl_context
from kprov.cluster.client.leader import LeaderElectionConfig, LeaderElector, LeadershipLost, default_identity
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
