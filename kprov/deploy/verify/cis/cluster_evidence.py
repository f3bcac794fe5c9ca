"""Read the cluster's CIS evidence through the API, as the administrator.

Authorization is checked by asking, not by reading flags: SubjectAccessReviews for identities
whose answer differs with the authorizers in force (an anonymous user listing Secrets: any
AlwaysAllow mode would allow it; a node reading its own Node: only the Node authorizer grants
it; an authenticated user creating a SelfSubjectAccessReview: RBAC's bootstrap policy grants
it). The rest is lists: RBAC objects, namespaces, ServiceAccounts, pods, NetworkPolicies.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.client import ApiClient
from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.resources import NAMESPACES, PODS, SERVICEACCOUNTS, Resource
from kprov.deploy.verify.cis.model import ClusterEvidence

__all__ = ["access_probes", "read_cluster_evidence"]

CLUSTER_ROLE_BINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
)
CLUSTER_ROLES = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True)
DEFAULT_NAMESPACE_KINDS = (
    Resource("", "v1", "services", "Service", True),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("apps", "v1", "deployments", "Deployment", True),
    PODS,
)


def access_probes(node: str) -> dict[str, dict[str, Any]]:
    """SubjectAccessReview specs by probe name."""
    return {
        "anonymous-list-secrets": {
            "user": "system:anonymous",
            "groups": ["system:unauthenticated"],
            "resourceAttributes": {"verb": "list", "resource": "secrets"},
        },
        "node-get-own-node": {
            "user": f"system:node:{node}",
            "groups": ["system:nodes", "system:authenticated"],
            "resourceAttributes": {"verb": "get", "resource": "nodes", "name": node},
        },
        "user-create-selfsubjectaccessreview": {
            "user": "kprov-cis-probe",
            "groups": ["system:authenticated"],
            "resourceAttributes": {
                "verb": "create",
                "group": "authorization.k8s.io",
                "resource": "selfsubjectaccessreviews",
            },
        },
        "user-list-secrets": {
            "user": "kprov-cis-probe",
            "groups": ["system:authenticated"],
            "resourceAttributes": {"verb": "list", "resource": "secrets"},
        },
    }


async def _allowed(client: ApiClient, spec: dict[str, Any]) -> bool:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    answer = await client.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
    return bool((answer.get("status") or {}).get("allowed"))


async def _status_of(client: ApiClient, path: str) -> int:
    try:
        await client.request("GET", path)
    except ApiError as err:
        return int(err.code)
    return 200


async def read_cluster_evidence(client: ApiClient, node: str) -> ClusterEvidence:
    ev = ClusterEvidence()
    try:
        ev.access = {name: await _allowed(client, spec) for name, spec in access_probes(node).items()}
        ev.http = {"/debug/pprof/": await _status_of(client, "/debug/pprof/")}
        ev.cluster_role_bindings, _ = await client.list_all(CLUSTER_ROLE_BINDINGS)
        ev.cluster_roles, _ = await client.list_all(CLUSTER_ROLES)
        ev.namespaces, _ = await client.list_all(NAMESPACES)
        ev.service_accounts, _ = await client.list_all(SERVICEACCOUNTS)
        ev.pods, _ = await client.list_all(PODS)
        try:
            ev.network_policies, _ = await client.list_all(NETWORK_POLICIES)
        except ApiError as err:
            if err.code != 404:
                raise
            ev.network_policies = None
        for res in DEFAULT_NAMESPACE_KINDS:
            items, _ = await client.list_all(res, "default")
            ev.default_namespace_objects += [f"{res.kind}/{i['metadata']['name']}" for i in items]
    except Exception as exc:  # noqa: BLE001 - any failure to read is reported on the cluster's rows
        ev.error = f"{type(exc).__name__}: {exc}"[:300]
    return ev
