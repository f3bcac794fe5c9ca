"""The resource registry: which kinds the API server serves, and how.

Design: every served resource is one frozen `ResourceInfo` (group, version, plural, kind,
scope, verbs, short names, categories, subresources). The table below is the single source
that discovery, routing, storage keys, tables and validation look kinds up in. `Registry`
indexes an immutable tuple of infos by (group, version, resource) and by (group, kind);
`REGISTRY` is the one instance built from the table (read-only; nothing mutates it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ALL_VERBS",
    "storage_of",
    "REGISTRY",
    "Registry",
    "ResourceInfo",
    "SubresourceInfo",
    "api_version",
    "split_api_version",
]

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
_NO_COLLECTION_DELETE: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class SubresourceInfo:
    """A subresource such as `status` or `scale`, with the kind it answers with."""

    name: str
    kind: str
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = ("get", "patch", "update")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class ResourceInfo:
    """Everything the server needs to know about one served resource."""

    group: str
    version: str
    resource: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[SubresourceInfo, ...] = ()
    list_kind: str = ""
    field_selectors: tuple[str, ...] = field(default=())
    # A custom resource's served version (kprov.cluster.api.crd.definition.CustomVersion): its schema,
    # printer columns and storage version; None for the built-in kinds.
    custom: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.list_kind:
            object.__setattr__(self, "list_kind", self.kind + "List")

    @property
    def api_version(self) -> str:
        return api_version(self)

    @property
    def group_version(self) -> str:
        return api_version(self)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    @property
    def has_scale(self) -> bool:
        return self.subresource("scale") is not None

    @property
    def group_resource(self) -> str:
        """`deployments.apps` / `pods`: the form Status messages use."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def subresource(self, name: str) -> SubresourceInfo | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


# Resources served in a second group that are the same stored objects as another group's
# (upstream registers one storage under both): (group, resource) -> where they are stored.
_STORED_AS = {("events.k8s.io", "events"): ("", "events")}


def storage_of(info: ResourceInfo) -> tuple[str, str]:
    """The (group, resource) whose keys ``info``'s objects are stored under."""
    return _STORED_AS.get((info.group, info.resource), (info.group, info.resource))


def api_version(info: ResourceInfo) -> str:
    """`v1` for the core group, `group/version` otherwise."""
    return f"{info.group}/{info.version}" if info.group else info.version


def split_api_version(value: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = value.rpartition("/")
    return group, version


_SCALE = SubresourceInfo("scale", "Scale", "autoscaling", "v1")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# Field selectors every resource supports, plus the kind-specific ones the real server accepts.
_META_FIELDS = ("metadata.name", "metadata.namespace")
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


def _status(kind: str, group: str = "", version: str = "v1") -> SubresourceInfo:
    return SubresourceInfo("status", kind, group, version)


def _rbac() -> tuple[ResourceInfo, ...]:
    rbac = "rbac.authorization.k8s.io"
    return (
        ResourceInfo(rbac, "v1", "roles", "Role", "role", True, field_selectors=_META_FIELDS),
        ResourceInfo(
            rbac, "v1", "rolebindings", "RoleBinding", "rolebinding", True, field_selectors=_META_FIELDS
        ),
        ResourceInfo(
            rbac, "v1", "clusterroles", "ClusterRole", "clusterrole", False, field_selectors=_META_FIELDS
        ),
        ResourceInfo(
            rbac,
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            "clusterrolebinding",
            False,
            field_selectors=_META_FIELDS,
        ),
    )


def _build() -> tuple[ResourceInfo, ...]:
    apps = "apps"
    return (
        ResourceInfo(
            "",
            "v1",
            "namespaces",
            "Namespace",
            "namespace",
            False,
            ("ns",),
            verbs=_NO_COLLECTION_DELETE,
            subresources=(_status("Namespace"), SubresourceInfo("finalize", "Namespace", verbs=("update",))),
            field_selectors=_META_FIELDS + ("status.phase",),
        ),
        ResourceInfo(
            "",
            "v1",
            "nodes",
            "Node",
            "node",
            False,
            ("no",),
            subresources=(_status("Node"), SubresourceInfo("proxy", "NodeProxyOptions", verbs=_PROXY_VERBS)),
            field_selectors=_META_FIELDS + ("spec.unschedulable",),
        ),
        ResourceInfo(
            "",
            "v1",
            "pods",
            "Pod",
            "pod",
            True,
            ("po",),
            ("all",),
            subresources=(
                _status("Pod"),
                SubresourceInfo("binding", "Binding", verbs=("create",)),
                SubresourceInfo("log", "Pod", verbs=("get",)),
                SubresourceInfo("attach", "PodAttachOptions", verbs=("create", "get")),
                SubresourceInfo("ephemeralcontainers", "Pod", verbs=("get", "patch", "update")),
                SubresourceInfo("exec", "PodExecOptions", verbs=("create", "get")),
                SubresourceInfo("portforward", "PodPortForwardOptions", verbs=("create", "get")),
                SubresourceInfo("proxy", "PodProxyOptions", verbs=_PROXY_VERBS),
                SubresourceInfo("eviction", "Eviction", "policy", "v1", verbs=("create",)),
            ),
            field_selectors=_META_FIELDS
            + (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ),
        ),
        ResourceInfo(
            "",
            "v1",
            "services",
            "Service",
            "service",
            True,
            ("svc",),
            ("all",),
            subresources=(
                _status("Service"),
                SubresourceInfo("proxy", "ServiceProxyOptions", verbs=_PROXY_VERBS),
            ),
            verbs=_NO_COLLECTION_DELETE,
            field_selectors=_META_FIELDS + ("spec.clusterIP", "spec.type"),
        ),
        ResourceInfo(
            "", "v1", "endpoints", "Endpoints", "endpoints", True, ("ep",), field_selectors=_META_FIELDS
        ),
        # served by handlers of their own (nothing stored): bindings create a pod's binding,
        # componentstatuses probe the control plane's components when read
        ResourceInfo("", "v1", "bindings", "Binding", "binding", True, verbs=("create",)),
        ResourceInfo(
            "",
            "v1",
            "componentstatuses",
            "ComponentStatus",
            "componentstatus",
            False,
            ("cs",),
            verbs=("get", "list"),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "", "v1", "configmaps", "ConfigMap", "configmap", True, ("cm",), field_selectors=_META_FIELDS
        ),
        ResourceInfo("", "v1", "secrets", "Secret", "secret", True, field_selectors=_META_FIELDS + ("type",)),
        ResourceInfo(
            "", "v1", "events", "Event", "event", True, ("ev",), field_selectors=_META_FIELDS + _EVENT_FIELDS
        ),
        ResourceInfo(
            "",
            "v1",
            "resourcequotas",
            "ResourceQuota",
            "resourcequota",
            True,
            ("quota",),
            subresources=(_status("ResourceQuota"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "",
            "v1",
            "limitranges",
            "LimitRange",
            "limitrange",
            True,
            ("limits",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "",
            "v1",
            "replicationcontrollers",
            "ReplicationController",
            "replicationcontroller",
            True,
            ("rc",),
            ("all",),
            subresources=(_status("ReplicationController"), _SCALE),
            field_selectors=_META_FIELDS + ("status.replicas",),
        ),
        ResourceInfo(
            "", "v1", "podtemplates", "PodTemplate", "podtemplate", True, field_selectors=_META_FIELDS
        ),
        ResourceInfo(
            "",
            "v1",
            "persistentvolumes",
            "PersistentVolume",
            "persistentvolume",
            False,
            ("pv",),
            subresources=(_status("PersistentVolume"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "",
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            "persistentvolumeclaim",
            True,
            ("pvc",),
            subresources=(_status("PersistentVolumeClaim"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            "serviceaccount",
            True,
            ("sa",),
            subresources=(
                SubresourceInfo("token", "TokenRequest", "authentication.k8s.io", "v1", ("create",)),
            ),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            apps,
            "v1",
            "deployments",
            "Deployment",
            "deployment",
            True,
            ("deploy",),
            ("all",),
            subresources=(_status("Deployment", apps), _SCALE),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            apps,
            "v1",
            "replicasets",
            "ReplicaSet",
            "replicaset",
            True,
            ("rs",),
            ("all",),
            subresources=(_status("ReplicaSet", apps), _SCALE),
            field_selectors=_META_FIELDS + ("status.replicas",),
        ),
        ResourceInfo(
            apps,
            "v1",
            "statefulsets",
            "StatefulSet",
            "statefulset",
            True,
            ("sts",),
            ("all",),
            subresources=(_status("StatefulSet", apps), _SCALE),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            apps,
            "v1",
            "daemonsets",
            "DaemonSet",
            "daemonset",
            True,
            ("ds",),
            ("all",),
            subresources=(_status("DaemonSet", apps),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            apps,
            "v1",
            "controllerrevisions",
            "ControllerRevision",
            "controllerrevision",
            True,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "batch",
            "v1",
            "jobs",
            "Job",
            "job",
            True,
            (),
            ("all",),
            subresources=(_status("Job", "batch"),),
            field_selectors=_META_FIELDS + ("status.successful",),
        ),
        ResourceInfo(
            "batch",
            "v1",
            "cronjobs",
            "CronJob",
            "cronjob",
            True,
            ("cj",),
            ("all",),
            subresources=(_status("CronJob", "batch"),),
            field_selectors=_META_FIELDS,
        ),
        # v2 first: the group's preferred version and the one stored (v1 reads and writes
        # convert, kprov.cluster.api.kinds.hpa_conversion).
        ResourceInfo(
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscaler",
            True,
            ("hpa",),
            ("all",),
            subresources=(_status("HorizontalPodAutoscaler", "autoscaling", "v2"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "autoscaling",
            "v1",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscaler",
            True,
            ("hpa",),
            ("all",),
            subresources=(_status("HorizontalPodAutoscaler", "autoscaling"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            "poddisruptionbudget",
            True,
            ("pdb",),
            subresources=(_status("PodDisruptionBudget", "policy"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            "PriorityClass",
            "priorityclass",
            False,
            ("pc",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "flowschemas",
            "FlowSchema",
            "flowschema",
            False,
            subresources=(_status("FlowSchema", "flowcontrol.apiserver.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "prioritylevelconfigurations",
            "PriorityLevelConfiguration",
            "prioritylevelconfiguration",
            False,
            subresources=(_status("PriorityLevelConfiguration", "flowcontrol.apiserver.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "node.k8s.io",
            "v1",
            "runtimeclasses",
            "RuntimeClass",
            "runtimeclass",
            False,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "storage.k8s.io",
            "v1",
            "storageclasses",
            "StorageClass",
            "storageclass",
            False,
            ("sc",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "storage.k8s.io",
            "v1",
            "csidrivers",
            "CSIDriver",
            "csidriver",
            False,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "storage.k8s.io", "v1", "csinodes", "CSINode", "csinode", False, field_selectors=_META_FIELDS
        ),
        ResourceInfo(
            "storage.k8s.io",
            "v1",
            "volumeattachments",
            "VolumeAttachment",
            "volumeattachment",
            False,
            subresources=(_status("VolumeAttachment", "storage.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "storage.k8s.io",
            "v1",
            "csistoragecapacities",
            "CSIStorageCapacity",
            "csistoragecapacity",
            True,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "coordination.k8s.io", "v1", "leases", "Lease", "lease", True, field_selectors=_META_FIELDS
        ),
        ResourceInfo(
            "certificates.k8s.io",
            "v1",
            "certificatesigningrequests",
            "CertificateSigningRequest",
            "certificatesigningrequest",
            False,
            ("csr",),
            subresources=(
                SubresourceInfo("approval", "CertificateSigningRequest", "certificates.k8s.io"),
                _status("CertificateSigningRequest", "certificates.k8s.io"),
            ),
            field_selectors=_META_FIELDS + ("spec.signerName",),
        ),
        ResourceInfo(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "Ingress",
            "ingress",
            True,
            ("ing",),
            subresources=(_status("Ingress", "networking.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "NetworkPolicy",
            "networkpolicy",
            True,
            ("netpol",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "networking.k8s.io",
            "v1",
            "ingressclasses",
            "IngressClass",
            "ingressclass",
            False,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "EndpointSlice",
            "endpointslice",
            True,
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            "event",
            True,
            ("ev",),
            field_selectors=(
                "metadata.name",
                "metadata.namespace",
                "reason",
                "regarding.kind",
                "regarding.namespace",
                "regarding.name",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
                "reportingController",
                "source",
                "type",
            ),
        ),
        *_rbac(),
        ResourceInfo(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfiguration",
            False,
            categories=("api-extensions",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "admissionregistration.k8s.io",
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfiguration",
            False,
            categories=("api-extensions",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicies",
            "ValidatingAdmissionPolicy",
            "validatingadmissionpolicy",
            False,
            categories=("api-extensions",),
            subresources=(_status("ValidatingAdmissionPolicy", "admissionregistration.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicybindings",
            "ValidatingAdmissionPolicyBinding",
            "validatingadmissionpolicybinding",
            False,
            categories=("api-extensions",),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            "customresourcedefinition",
            False,
            ("crd", "crds"),
            ("api-extensions",),
            subresources=(_status("CustomResourceDefinition", "apiextensions.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "apiregistration.k8s.io",
            "v1",
            "apiservices",
            "APIService",
            "apiservice",
            False,
            categories=("api-extensions",),
            subresources=(_status("APIService", "apiregistration.k8s.io"),),
            field_selectors=_META_FIELDS,
        ),
        ResourceInfo(
            "authentication.k8s.io",
            "v1",
            "tokenreviews",
            "TokenReview",
            "tokenreview",
            False,
            verbs=("create",),
        ),
        ResourceInfo(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "SelfSubjectReview",
            "selfsubjectreview",
            False,
            verbs=("create",),
        ),
        ResourceInfo(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreview",
            False,
            verbs=("create",),
        ),
        ResourceInfo(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreview",
            False,
            verbs=("create",),
        ),
        ResourceInfo(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "SubjectAccessReview",
            "subjectaccessreview",
            False,
            verbs=("create",),
        ),
        ResourceInfo(
            "authorization.k8s.io",
            "v1",
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            "localsubjectaccessreview",
            True,
            verbs=("create",),
        ),
    )


class Registry:
    """Read-only lookups over a fixed tuple of resources."""

    def __init__(self, infos: tuple[ResourceInfo, ...]) -> None:
        self._infos = infos
        self._by_gvr = MappingProxyType({(i.group, i.version, i.resource): i for i in infos})
        by_kind: dict[tuple[str, str], ResourceInfo] = {}
        for info in infos:
            by_kind.setdefault((info.group, info.kind), info)
        self._by_kind = MappingProxyType(by_kind)
        self._by_gvk = MappingProxyType({(i.group, i.version, i.kind): i for i in reversed(infos)})

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def all(self) -> tuple[ResourceInfo, ...]:
        return self._infos

    def get(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        """By URL parts: ("apps", "v1", "deployments")."""
        return self._by_gvr.get((group, version, resource))

    def by_kind(self, kind: str, group: str | None = None) -> ResourceInfo | None:
        """By kind; `group` None means: the core group first, then any group serving the kind."""
        if group is not None:
            return self._by_kind.get((group, kind))
        found = self._by_kind.get(("", kind))
        if found is not None:
            return found
        return next((i for i in self._infos if i.kind == kind), None)

    def for_object(self, obj: dict) -> ResourceInfo | None:
        """By an object's apiVersion and kind."""
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        return self._by_gvk.get((group, version, str(obj.get("kind", ""))))

    def group_versions(self) -> tuple[tuple[str, str], ...]:
        """(group, version) pairs in table order, the core group first."""
        seen: dict[tuple[str, str], None] = {}
        for info in self._infos:
            seen.setdefault((info.group, info.version), None)
        return tuple(seen)

    def in_group_version(self, group: str, version: str) -> tuple[ResourceInfo, ...]:
        return tuple(i for i in self._infos if i.group == group and i.version == version)

    def extended(self, extra: tuple[ResourceInfo, ...]) -> Registry:
        """This registry plus ``extra`` (custom resources); a built-in resource keeps its
        place when an extra one would take the same (group, version, resource)."""
        taken = self._by_gvr
        added = tuple(i for i in extra if (i.group, i.version, i.resource) not in taken)
        return Registry(self._infos + added)


REGISTRY = Registry(_build())
