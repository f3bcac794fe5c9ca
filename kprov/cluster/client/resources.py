"""Where a kind lives on the REST API: group, version, plural and scope.

A :class:`Resource` turns (namespace, name, subresource) into a URL path. The constants
below are the kinds the cluster components use; anything else can be built on the fly or
found through :meth:`kprov.cluster.client.rest.ApiClient.discover`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = [
    "BINDINGS",
    "CERTIFICATE_SIGNING_REQUESTS",
    "CLUSTERROLES",
    "CONFIGMAPS",
    "CONTROLLER_REVISIONS",
    "CRONJOBS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "ENDPOINTSLICES",
    "HORIZONTAL_POD_AUTOSCALERS",
    "EVENTS",
    "INGRESSES",
    "INGRESS_CLASSES",
    "JOBS",
    "LEASES",
    "LIMIT_RANGES",
    "NAMESPACES",
    "NETWORK_POLICIES",
    "NODES",
    "PERSISTENT_VOLUME_CLAIMS",
    "PERSISTENT_VOLUMES",
    "POD_DISRUPTION_BUDGETS",
    "PODS",
    "PRIORITY_CLASSES",
    "PODTEMPLATES",
    "REPLICASETS",
    "REPLICATION_CONTROLLERS",
    "RESOURCE_QUOTAS",
    "RUNTIME_CLASSES",
    "SECRETS",
    "SERVICEACCOUNTS",
    "SERVICES",
    "STORAGE_CLASSES",
    "STATEFULSETS",
    "Resource",
]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        parts = [self.base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{_segment(namespace)}")
        parts.append(self.plural)
        if name is not None:
            parts.append(_segment(name))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


PODS = Resource("", "v1", "pods", "Pod", True)
BINDINGS = Resource("", "v1", "bindings", "Binding", True)
NODES = Resource("", "v1", "nodes", "Node", False)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
SERVICES = Resource("", "v1", "services", "Service", True)
ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints", True)
EVENTS = Resource("", "v1", "events", "Event", True)
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount", True)
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True)
SECRETS = Resource("", "v1", "secrets", "Secret", True)
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True)
PERSISTENT_VOLUMES = Resource("", "v1", "persistentvolumes", "PersistentVolume", False)
STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", False)
RESOURCE_QUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota", True)
LIMIT_RANGES = Resource("", "v1", "limitranges", "LimitRange", True)
PODTEMPLATES = Resource("", "v1", "podtemplates", "PodTemplate", True)
REPLICATION_CONTROLLERS = Resource("", "v1", "replicationcontrollers", "ReplicationController", True)
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet", True)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment", True)
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet", True)
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet", True)
CONTROLLER_REVISIONS = Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True)
NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True)
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True)
INGRESS_CLASSES = Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False)
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob", True)
HORIZONTAL_POD_AUTOSCALERS = Resource(
    "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True
)
POD_DISRUPTION_BUDGETS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
JOBS = Resource("batch", "v1", "jobs", "Job", True)
PRIORITY_CLASSES = Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False)
RUNTIME_CLASSES = Resource("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease", True)
CLUSTERROLES = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
CERTIFICATE_SIGNING_REQUESTS = Resource(
    "certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False
)


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def _segment(text: str) -> str:
    """``text`` as one URL path segment (object names are nearly always plain already)."""
    return text if _PLAIN.issuperset(text) else quote(text, safe="")
