"""One ClusterRole per controller, bound to one ServiceAccount in kube-system.

With ``--use-service-account-credentials`` the controller manager acts for each controller
as ServiceAccount ``kube-system/<name>``, and that account holds ClusterRole
``system:controller:<name>`` through a ClusterRoleBinding of the same name. The roles are
upstream's (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, the set a v1.32 API server
creates with its default feature gates), whether or not kprov runs the controller, so a
client that looks for them finds what it would on a kubeadm cluster. kprov's own
controllers without an upstream counterpart get a role under the same prefix:
``local-path-provisioner`` (storage classes and the volumes it makes) and
``kubelet-serving-approver`` (approves kubelets' serving certificate requests).

The controller manager's own identity (system:kube-controller-manager) then only runs the
shared informers (list/watch), leader election, and the legacy token Secrets, and asks for
the controllers' tokens (serviceaccounts/token create).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTROLLER_ROLE_PREFIX", "controller_cluster_role_bindings", "controller_cluster_roles"]

CONTROLLER_ROLE_PREFIX = "system:controller:"

_RBAC = "rbac.authorization.k8s.io"
_R = ["get", "list", "watch"]
_RW = ["get", "list", "watch", "create", "update", "delete"]
_ALL7 = ["get", "list", "watch", "create", "update", "patch", "delete"]
_LW = ["list", "watch"]
_CORE = [""]
_APPS_EXT = ["extensions", "apps"]
_APPS = ["apps"]
_BATCH = ["batch"]
_STORAGE = ["storage.k8s.io"]
_SIGNERS = "certificates.k8s.io"

Rule = dict[str, Any]


def _rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> Rule:
    rule: Rule = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        rule["resourceNames"] = names
    return rule


def _events() -> Rule:
    return _rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"])


def _roles() -> dict[str, list[Rule]]:
    """Each controller's account name and what upstream grants it."""
    return {
        "attachdetach-controller": [
            _rule(_LW, _CORE, ["persistentvolumes", "persistentvolumeclaims"]),
            _rule(_R, _CORE, ["nodes"]),
            _rule(["patch", "update"], _CORE, ["nodes/status"]),
            _rule(_LW, _CORE, ["pods"]),
            _events(),
            _rule(["get", "create", "delete", "list", "watch"], _STORAGE, ["volumeattachments"]),
            _rule(["get", "watch", "list"], _STORAGE, ["csidrivers"]),
            _rule(["get", "watch", "list"], _STORAGE, ["csinodes"]),
        ],
        "clusterrole-aggregation-controller": [
            _rule(["escalate", "get", "list", "watch", "update", "patch"], [_RBAC], ["clusterroles"]),
        ],
        "cronjob-controller": [
            _rule(["get", "list", "watch", "update"], _BATCH, ["cronjobs"]),
            _rule(["get", "list", "watch", "create", "update", "delete", "patch"], _BATCH, ["jobs"]),
            _rule(["update"], _BATCH, ["cronjobs/status"]),
            _rule(["update"], _BATCH, ["cronjobs/finalizers"]),
            _rule(["list", "watch", "delete"], _CORE, ["pods"]),
            _events(),
        ],
        "daemon-set-controller": [
            _rule(_R, _APPS_EXT, ["daemonsets"]),
            _rule(["update"], _APPS_EXT, ["daemonsets/status"]),
            _rule(["update"], _APPS_EXT, ["daemonsets/finalizers"]),
            _rule(_LW, _CORE, ["nodes"]),
            _rule(["list", "watch", "create", "delete", "patch"], _CORE, ["pods"]),
            _rule(["create"], _CORE, ["pods/binding"]),
            _rule(_ALL7, _APPS, ["controllerrevisions"]),
            _events(),
        ],
        "deployment-controller": [
            _rule(["get", "list", "watch", "update"], _APPS_EXT, ["deployments"]),
            _rule(["update"], _APPS_EXT, ["deployments/status"]),
            _rule(["update"], _APPS_EXT, ["deployments/finalizers"]),
            _rule(["get", "list", "watch", "create", "update", "patch", "delete"], ["apps", "extensions"],
                  ["replicasets"]),
            _rule(["get", "list", "watch", "update"], _CORE, ["pods"]),
            _events(),
        ],
        "disruption-controller": [
            _rule(_R, _APPS_EXT, ["deployments"]),
            _rule(_R, ["apps", "extensions"], ["replicasets"]),
            _rule(_R, _CORE, ["replicationcontrollers"]),
            _rule(_R, ["policy"], ["poddisruptionbudgets"]),
            _rule(_R, _APPS, ["statefulsets"]),
            _rule(["update"], ["policy"], ["poddisruptionbudgets/status"]),
            _rule(["patch", "update"], _CORE, ["pods/status"]),
            _rule(["get"], ["*"], ["*/scale"]),
            _events(),
        ],
        "endpoint-controller": [
            _rule(_R, _CORE, ["services", "pods"]),
            _rule(["get", "list", "watch", "create", "update", "delete"], _CORE, ["endpoints"]),
            _rule(["create"], _CORE, ["endpoints/restricted"]),
            _events(),
        ],
        "endpointslice-controller": [
            _rule(_R, _CORE, ["services", "pods", "nodes"]),
            _rule(["update"], _CORE, ["services/finalizers"]),
            _rule(_RW, ["discovery.k8s.io"], ["endpointslices"]),
            _events(),
        ],
        "endpointslicemirroring-controller": [
            _rule(_R, _CORE, ["services", "endpoints"]),
            _rule(["update"], _CORE, ["services/finalizers"]),
            _rule(["update"], _CORE, ["endpoints/finalizers"]),
            _rule(_RW, ["discovery.k8s.io"], ["endpointslices"]),
            _events(),
        ],
        "expand-controller": [
            _rule(["get", "list", "watch", "update", "patch"], _CORE, ["persistentvolumes"]),
            _rule(["update", "patch"], _CORE, ["persistentvolumeclaims/status"]),
            _rule(_R, _CORE, ["persistentvolumeclaims"]),
            _events(),
            _rule(["get"], _CORE, ["services"]),
        ],
        "ephemeral-volume-controller": [
            _rule(_R, _CORE, ["pods"]),
            _rule(["update"], _CORE, ["pods/finalizers"]),
            _rule(["get", "list", "watch", "create"], _CORE, ["persistentvolumeclaims"]),
            _events(),
        ],
        "generic-garbage-collector": [
            _rule(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]),
            _events(),
        ],
        "horizontal-pod-autoscaler": [
            _rule(_R, ["autoscaling"], ["horizontalpodautoscalers"]),
            _rule(["update"], ["autoscaling"], ["horizontalpodautoscalers/status"]),
            _rule(["get", "update"], ["*"], ["*/scale"]),
            _rule(_LW, _CORE, ["pods"]),
            _rule(_LW, ["metrics.k8s.io"], ["pods"]),
            _rule(_R, ["custom.metrics.k8s.io"], ["*"]),
            _rule(_R, ["external.metrics.k8s.io"], ["*"]),
            _events(),
        ],
        "job-controller": [
            _rule(["get", "list", "watch", "update", "patch"], _BATCH, ["jobs"]),
            _rule(["update"], _BATCH, ["jobs/status"]),
            _rule(["update"], _BATCH, ["jobs/finalizers"]),
            _rule(["list", "watch", "create", "delete", "patch"], _CORE, ["pods"]),
            _events(),
        ],
        "namespace-controller": [
            _rule(["get", "list", "watch", "delete"], _CORE, ["namespaces"]),
            _rule(["update"], _CORE, ["namespaces/finalize", "namespaces/status"]),
            _rule(["get", "list", "watch", "delete", "deletecollection"], ["*"], ["*"]),
        ],
        "node-controller": [
            _rule(["get", "list", "watch", "update", "delete", "patch"], _CORE, ["nodes"]),
            _rule(["patch", "update"], _CORE, ["nodes/status"]),
            _rule(["patch", "update"], _CORE, ["pods/status"]),
            _rule(["list", "watch", "get", "delete"], _CORE, ["pods"]),
            _events(),
        ],
        "persistent-volume-binder": [
            _rule(["get", "list", "watch", "update", "create", "delete"], _CORE, ["persistentvolumes"]),
            _rule(["update"], _CORE, ["persistentvolumes/status"]),
            _rule(["get", "list", "watch", "update"], _CORE, ["persistentvolumeclaims"]),
            _rule(["update"], _CORE, ["persistentvolumeclaims/status"]),
            _rule(["list", "watch", "get", "create", "delete"], _CORE, ["pods"]),
            _rule(_R, _STORAGE, ["storageclasses"]),
            _rule(_LW, _CORE, ["nodes"]),
            _events(),
            _rule(["watch"], _CORE, ["events"]),
            _rule(["get"], _CORE, ["services"]),
        ],
        "pod-garbage-collector": [
            _rule(["list", "watch", "delete"], _CORE, ["pods"]),
            _rule(_R, _CORE, ["nodes"]),
            _rule(["patch"], _CORE, ["pods/status"]),
        ],
        "replicaset-controller": [
            _rule(["get", "list", "watch", "update"], ["apps", "extensions"], ["replicasets"]),
            _rule(["update"], ["apps", "extensions"], ["replicasets/status"]),
            _rule(["update"], ["apps", "extensions"], ["replicasets/finalizers"]),
            _rule(["list", "watch", "patch", "create", "delete"], _CORE, ["pods"]),
            _events(),
        ],
        "replication-controller": [
            _rule(["get", "list", "watch", "update"], _CORE, ["replicationcontrollers"]),
            _rule(["update"], _CORE, ["replicationcontrollers/status"]),
            _rule(["update"], _CORE, ["replicationcontrollers/finalizers"]),
            _rule(["list", "watch", "patch", "create", "delete"], _CORE, ["pods"]),
            _events(),
        ],
        "resourcequota-controller": [
            _rule(_LW, ["*"], ["*"]),
            _rule(["update"], _CORE, ["resourcequotas/status"]),
            _events(),
        ],
        "route-controller": [
            _rule(_LW, _CORE, ["nodes"]),
            _rule(["patch"], _CORE, ["nodes/status"]),
            _events(),
        ],
        "service-account-controller": [
            _rule(["create"], _CORE, ["serviceaccounts"]),
            _events(),
        ],
        "service-controller": [
            _rule(_R, _CORE, ["services"]),
            _rule(["patch", "update"], _CORE, ["services/status"]),
            _rule(_LW, _CORE, ["nodes"]),
            _events(),
        ],
        "statefulset-controller": [
            _rule(_LW, _CORE, ["pods"]),
            _rule(_R, _APPS, ["statefulsets"]),
            _rule(["update"], _APPS, ["statefulsets/status"]),
            _rule(["update"], _APPS, ["statefulsets/finalizers"]),
            _rule(["get", "create", "delete", "update", "patch"], _CORE, ["pods"]),
            _rule(_ALL7, _APPS, ["controllerrevisions"]),
            _rule(["get", "create", "list", "watch"], _CORE, ["persistentvolumeclaims"]),
            _rule(["update", "delete"], _CORE, ["persistentvolumeclaims"]),
            _rule(["update"], _CORE, ["pods/finalizers"]),
            _events(),
        ],
        "ttl-controller": [
            _rule(["update", "patch", "list", "watch"], _CORE, ["nodes"]),
            _events(),
        ],
        "certificate-controller": [
            _rule(["get", "list", "watch", "delete"], [_SIGNERS], ["certificatesigningrequests"]),
            _rule(["update"], [_SIGNERS],
                  ["certificatesigningrequests/status", "certificatesigningrequests/approval"]),
            _rule(["approve"], [_SIGNERS], ["signers"], ["kubernetes.io/kube-apiserver-client-kubelet"]),
            _rule(["sign"], [_SIGNERS], ["signers"], [
                "kubernetes.io/legacy-unknown",
                "kubernetes.io/kube-apiserver-client",
                "kubernetes.io/kube-apiserver-client-kubelet",
                "kubernetes.io/kubelet-serving",
            ]),
            _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
            _events(),
        ],
        "pvc-protection-controller": [
            _rule(["get", "list", "watch", "update"], _CORE, ["persistentvolumeclaims"]),
            _rule(["list", "watch", "get"], _CORE, ["pods"]),
            _events(),
        ],
        "pv-protection-controller": [
            _rule(["get", "list", "watch", "update"], _CORE, ["persistentvolumes"]),
            _events(),
        ],
        "ttl-after-finished-controller": [
            _rule(["get", "list", "watch", "delete"], _BATCH, ["jobs"]),
            _events(),
        ],
        "root-ca-cert-publisher": [
            _rule(["create", "update"], _CORE, ["configmaps"]),
            _events(),
        ],
        "validatingadmissionpolicy-status-controller": [
            _rule(_R, ["admissionregistration.k8s.io"], ["validatingadmissionpolicies"]),
            _rule(["get", "patch", "update"], ["admissionregistration.k8s.io"],
                  ["validatingadmissionpolicies/status"]),
            _events(),
        ],
        "legacy-service-account-token-cleaner": [
            _rule(["get"], _CORE, ["configmaps"], ["kube-apiserver-legacy-service-account-token-tracking"]),
            _rule(["patch", "delete"], _CORE, ["secrets"]),
        ],
        # kprov's own: kubelets' serving certificates approved when they name only their node
        "kubelet-serving-approver": [
            _rule(["update"], [_SIGNERS], ["certificatesigningrequests/approval"]),
            _rule(["approve"], [_SIGNERS], ["signers"], ["kubernetes.io/kubelet-serving"]),
            _events(),
        ],
        # kprov's own: the local-path provisioner makes its default class and the volumes
        "local-path-provisioner": [
            _rule(["create"], _STORAGE, ["storageclasses"]),
            _rule(["create", "delete"], _CORE, ["persistentvolumes"]),
            _events(),
        ],
    }


def _meta(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def controller_cluster_roles() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": _meta(CONTROLLER_ROLE_PREFIX + account),
            "rules": rules,
        }
        for account, rules in _roles().items()
    ]


def controller_cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(CONTROLLER_ROLE_PREFIX + account),
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": CONTROLLER_ROLE_PREFIX + account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}],
        }
        for account in _roles()
    ]
