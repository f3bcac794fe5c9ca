"""The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings every cluster starts with.

The facts are upstream's (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): cluster-admin for
system:masters; system:discovery, system:basic-user and system:public-info-viewer for every
authenticated user (the last also for anonymous requests); the user-facing roles admin, edit
and view, aggregated from system:aggregate-to-{admin,edit,view} (so labelled roles extend
them); the component roles system:kube-scheduler, system:kube-controller-manager,
system:node-proxier, system:node (granted through the Node rules, bound to nobody),
system:auth-delegator, system:monitoring, system:service-account-issuer-discovery.

The controllers' own roles, system:controller:<name> bound to ServiceAccount
kube-system/<name>, are in :mod:`.controller_policy`; the controller manager acts with them
(--use-service-account-credentials), so its own role stays upstream's.

kprov's own identities get the same treatment, nothing hard-coded: the cluster DNS server (User
system:kprov:kube-dns) reads services, endpointslices, pods and namespaces everywhere and, by
a Role in kube-system only, creates the kube-dns Service and writes its EndpointSlices and
the servers' liveness Leases; the Ingress controller (User system:kprov:ingress-controller)
reads Ingresses, IngressClasses, Services, EndpointSlices and Secrets, writes Ingress status,
creates its IngressClass and, in kube-system, keeps its instances' presence Leases;
kprov-proxy's NetworkPolicy agent (User system:kube-proxy, also
bound to system:kprov:network-policy-agent) lists and watches pods, namespaces and
NetworkPolicies.

Every object carries ``kubernetes.io/bootstrapping: rbac-defaults`` and the annotation
``rbac.authorization.kubernetes.io/autoupdate: "true"`` (reconciliation may add to it; an
operator sets it to "false" to keep their edits).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.apiserver.authz.controller_policy import (
    controller_cluster_role_bindings,
    controller_cluster_roles,
)

__all__ = [
    "bootstrap_cluster_role_bindings",
    "bootstrap_cluster_roles",
    "bootstrap_namespaced_role_bindings",
    "bootstrap_namespaced_roles",
]

_RBAC = "rbac.authorization.k8s.io"
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_EVENT_WRITE = ["create", "patch", "update"]
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(
    groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def _urls(urls: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": urls, "verbs": verbs}


def _events() -> list[dict[str, Any]]:
    return [_rule([""], ["events"], _EVENT_WRITE), _rule(["events.k8s.io"], ["events"], _EVENT_WRITE)]


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def _role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": rules,
    }


def _aggregated(name: str, to: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    role = _role(name, [], labels)
    role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {f"{_AGGREGATE}{to}": "true"}}]}
    return role


def _view_rules() -> list[dict[str, Any]]:
    return [
        _rule(
            [""],
            [
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
            _READ,
        ),
        _rule(
            [""],
            [
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
            _READ,
        ),
        _rule([""], ["namespaces"], _READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
        _rule(
            ["apps"],
            [
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            _READ,
        ),
        _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
        _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
        _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
        _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _READ),
    ]


def _edit_rules() -> list[dict[str, Any]]:
    pod_access = ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]
    return [
        _rule([""], [*pod_access, "secrets", "services/proxy"], _READ),
        _rule([""], ["serviceaccounts"], ["impersonate"]),
        _rule([""], ["pods", *pod_access], _WRITE),
        _rule([""], ["pods/eviction"], ["create"]),
        _rule(
            [""],
            [
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            _WRITE,
        ),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule(
            ["apps"],
            [
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            _WRITE,
        ),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
        _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
        _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
        _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
        _rule(["coordination.k8s.io"], ["leases"], _ALL),
    ]


def _scheduler_rules() -> list[dict[str, Any]]:
    return [
        *_events(),
        _rule(["coordination.k8s.io"], ["leases"], ["create"]),
        _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-scheduler"]),
        _rule([""], ["endpoints"], ["create"]),
        _rule([""], ["endpoints"], ["get", "update"], ["kube-scheduler"]),
        _rule([""], ["nodes"], _READ),
        _rule([""], ["namespaces"], _READ),
        _rule([""], ["pods"], ["delete", "get", "list", "watch"]),
        _rule([""], ["bindings", "pods/binding"], ["create"]),
        _rule([""], ["pods/status"], ["patch", "update"]),
        _rule([""], ["replicationcontrollers", "services"], _READ),
        _rule(["apps", "extensions"], ["replicasets"], _READ),
        _rule(["apps"], ["statefulsets"], _READ),
        _rule(["policy"], ["poddisruptionbudgets"], _READ),
        _rule([""], ["persistentvolumeclaims", "persistentvolumes"], _READ),
        # upstream's system:volume-scheduler: the selected-node annotation on claims
        _rule([""], ["persistentvolumeclaims"], ["patch", "update"]),
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        _rule(
            ["storage.k8s.io"], ["csidrivers", "csinodes", "csistoragecapacities", "storageclasses"], _READ
        ),
    ]


def _controller_manager_rules() -> list[dict[str, Any]]:
    return [
        *_events(),
        _rule(["coordination.k8s.io"], ["leases"], ["create"]),
        _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-controller-manager"]),
        _rule([""], ["endpoints"], ["create"]),
        _rule([""], ["endpoints"], ["get", "update"], ["kube-controller-manager"]),
        _rule([""], ["secrets", "serviceaccounts"], ["create"]),
        _rule([""], ["secrets"], ["delete"]),
        _rule([""], ["configmaps", "namespaces", "secrets", "serviceaccounts"], ["get"]),
        _rule([""], ["secrets", "serviceaccounts"], ["update"]),
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        _rule(["*"], ["*"], ["list", "watch"]),
        _rule([""], ["serviceaccounts/token"], ["create"]),
    ]


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    view_labels = {f"{_AGGREGATE}admin": "true", f"{_AGGREGATE}edit": "true", f"{_AGGREGATE}view": "true"}
    edit_labels = {f"{_AGGREGATE}admin": "true", f"{_AGGREGATE}edit": "true"}
    health = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    return [
        _role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _role(
            "system:discovery",
            [_urls(["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *health], ["get"])],
        ),
        _role(
            "system:basic-user",
            [
                _rule(
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _role("system:public-info-viewer", [_urls(health, ["get"])]),
        _aggregated("admin", "admin", {}),
        _aggregated("edit", "edit", {f"{_AGGREGATE}admin": "true"}),
        _aggregated("view", "view", {f"{_AGGREGATE}edit": "true"}),
        _role(
            "system:aggregate-to-admin",
            [
                _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
                _rule([_RBAC], ["rolebindings", "roles"], _ALL),
            ],
            {f"{_AGGREGATE}admin": "true"},
        ),
        _role("system:aggregate-to-edit", _edit_rules(), edit_labels),
        _role("system:aggregate-to-view", _view_rules(), view_labels),
        _role(
            "system:monitoring",
            [
                _urls(
                    ["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/readyz", "/readyz/*"],
                    ["get"],
                )
            ],
        ),
        # the metrics API (kprov-metrics-server, as metrics-server's manifests grant it)
        _role(
            "system:aggregated-metrics-reader",
            [_rule(["metrics.k8s.io"], ["pods", "nodes"], _READ)],
            view_labels,
        ),
        _role(
            "system:kprov:metrics-server",
            [
                _rule([""], ["nodes", "pods"], ["get", "list"]),
                _rule(["apiregistration.k8s.io"], ["apiservices"], ["create"]),
                _rule(
                    ["apiregistration.k8s.io"], ["apiservices"], ["get", "update"], ["v1beta1.metrics.k8s.io"]
                ),
            ],
        ),
        _role(
            "system:auth-delegator",
            [
                _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            ],
        ),
        _role(
            "system:service-account-issuer-discovery",
            [
                _urls(
                    [
                        "/.well-known/openid-configuration",
                        "/.well-known/openid-configuration/",
                        "/openid/v1/jwks",
                        "/openid/v1/jwks/",
                    ],
                    ["get"],
                )
            ],
        ),
        _role(
            "system:node-proxier",
            [
                _rule([""], ["endpoints", "services"], ["list", "watch"]),
                _rule([""], ["nodes"], _READ),
                *_events(),
                _rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
            ],
        ),
        _role(
            "system:node",
            [
                _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                _rule(
                    ["authorization.k8s.io"],
                    ["localsubjectaccessreviews", "subjectaccessreviews"],
                    ["create"],
                ),
                _rule([""], ["services"], _READ),
                _rule([""], ["nodes"], ["create", "get", "list", "watch"]),
                _rule([""], ["nodes/status"], ["patch", "update"]),
                _rule([""], ["nodes"], ["patch", "update"]),
                *_events(),
                _rule([""], ["pods"], _READ),
                _rule([""], ["pods"], ["create", "delete"]),
                _rule([""], ["pods/status"], ["patch", "update"]),
                _rule([""], ["pods/eviction"], ["create"]),
                _rule([""], ["configmaps", "secrets"], ["get", "list", "watch"]),
                _rule([""], ["persistentvolumeclaims", "persistentvolumes"], ["get"]),
                _rule([""], ["endpoints"], ["get"]),
                _rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "patch", "update"]),
                _rule([""], ["serviceaccounts/token"], ["create"]),
                _rule(["node.k8s.io"], ["runtimeclasses"], ["get", "list", "watch"]),
                _rule(["storage.k8s.io"], ["volumeattachments"], ["get"]),
                _rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", *_READ]),
            ],
        ),
        _role("system:kube-scheduler", _scheduler_rules()),
        _role("system:kube-controller-manager", _controller_manager_rules()),
        # kprov-proxy's NetworkPolicy agent (User system:kube-proxy): what policies select
        _role(
            "system:kprov:network-policy-agent",
            [
                _rule([""], ["pods", "namespaces"], ["list", "watch"]),
                _rule(["networking.k8s.io"], ["networkpolicies"], ["list", "watch"]),
            ],
        ),
        # kprov-ingress: what it routes (Secrets: the TLS ones it serves, as ingress-nginx reads them)
        _role(
            "system:kprov:ingress-controller",
            [
                _rule([""], ["services", "secrets"], ["list", "watch"]),
                _rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
                _rule(["networking.k8s.io"], ["ingresses", "ingressclasses"], ["list", "watch"]),
                _rule(["networking.k8s.io"], ["ingresses/status"], ["patch"]),
                _rule(["networking.k8s.io"], ["ingressclasses"], ["create"]),
            ],
        ),
        _role(
            "system:kprov:kube-dns",
            [
                # get: the servers read the kube-dns Service and their own slice before writing
                _rule([""], ["services", "pods", "namespaces"], ["get", "list", "watch"]),
                _rule(["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
            ],
        ),
        # who may have a kubelet client certificate approved automatically (csrapproving asks)
        _role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [_rule(["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"], ["create"])],
        ),
        _role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [_rule(["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"], ["create"])],
        ),
        *controller_cluster_roles(),
    ]


def _subject(kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": _RBAC, "kind": kind, "name": name}


def _binding(name: str, role: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


_METRICS_SERVER = {"kind": "User", "apiGroup": _RBAC, "name": "system:kprov:metrics-server"}


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    authenticated = _subject("Group", "system:authenticated")
    return [
        _binding("cluster-admin", "cluster-admin", [_subject("Group", "system:masters")]),
        _binding("system:discovery", "system:discovery", [authenticated]),
        _binding("system:basic-user", "system:basic-user", [authenticated]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, _subject("Group", "system:unauthenticated")],
        ),
        _binding("system:monitoring", "system:monitoring", [_subject("Group", "system:monitoring")]),
        _binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            [_subject("Group", "system:serviceaccounts")],
        ),
        _binding("system:node-proxier", "system:node-proxier", [_subject("User", "system:kube-proxy")]),
        _binding(
            "system:kprov:network-policy-agent",
            "system:kprov:network-policy-agent",
            [_subject("User", "system:kube-proxy")],
        ),
        _binding(
            "system:kube-scheduler", "system:kube-scheduler", [_subject("User", "system:kube-scheduler")]
        ),
        _binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [_subject("User", "system:kube-controller-manager")],
        ),
        _binding(
            "system:kprov:kube-dns", "system:kprov:kube-dns", [_subject("User", "system:kprov:kube-dns")]
        ),
        _binding("system:kprov:metrics-server", "system:kprov:metrics-server", [_METRICS_SERVER]),
        _binding(
            "system:kprov:ingress-controller",
            "system:kprov:ingress-controller",
            [_subject("User", "system:kprov:ingress-controller")],
        ),
        _binding("metrics-server:system:auth-delegator", "system:auth-delegator", [_METRICS_SERVER]),
        # nodes renew their own client certificates (kubeadm's binding, under kprov's name)
        _binding(
            "kprov:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [_subject("Group", "system:nodes")],
        ),
        *controller_cluster_role_bindings(),
    ]


def bootstrap_namespaced_roles() -> list[dict[str, Any]]:
    role = _role(
        "system:kprov:kube-dns",
        [
            _rule([""], ["services"], ["create"]),
            _rule(["discovery.k8s.io"], ["endpointslices"], ["create", "delete", "patch", "update"]),
            # each server's liveness Lease, renewed by itself and watched by its peers
            _rule(["coordination.k8s.io"], ["leases"],
                  ["create", "delete", "get", "list", "update", "watch"]),
        ],
    )
    # extension API servers read the request-header settings the API server publishes
    reader = _role(
        "extension-apiserver-authentication-reader",
        [_rule([""], ["configmaps"], _READ, ["extension-apiserver-authentication"])],
    )
    metrics = _role(
        "system:kprov:metrics-server",
        [
            _rule([""], ["services"], ["create", "get"]),
            _rule(["discovery.k8s.io"], ["endpointslices"], ["create", "delete", "get", "update"]),
        ],
    )
    # kprov-ingress: each instance's presence Lease (its address), read by all of them
    ingress = _role(
        "system:kprov:ingress-controller",
        [_rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "list", "update", "watch"])],
    )
    for namespaced in (role, reader, metrics, ingress):
        namespaced["kind"] = "Role"
        namespaced["metadata"]["namespace"] = "kube-system"
    return [role, reader, metrics, ingress]


def bootstrap_namespaced_role_bindings() -> list[dict[str, Any]]:
    bindings = [
        _binding(
            "system:kprov:kube-dns", "system:kprov:kube-dns", [_subject("User", "system:kprov:kube-dns")]
        ),
        _binding("system:kprov:metrics-server", "system:kprov:metrics-server", [_METRICS_SERVER]),
        _binding("metrics-server-auth-reader", "extension-apiserver-authentication-reader",
                 [_METRICS_SERVER]),
        _binding("system:kprov:ingress-controller", "system:kprov:ingress-controller",
                 [_subject("User", "system:kprov:ingress-controller")]),
    ]
    for binding in bindings:
        binding["kind"] = "RoleBinding"
        binding["metadata"]["namespace"] = "kube-system"
        binding["roleRef"]["kind"] = "Role"
    return bindings
