"""Authorization: the chain system:masters -> Node rules -> RBAC, as kube-apiserver's
``--authorization-mode=Node,RBAC`` with its privileged group.

:class:`Authorizer` is what the server asks: :func:`authorize` (the fixed rules below) first,
then the RBAC index (:mod:`.rbac_index`) built from Roles, ClusterRoles and their bindings - where
the bootstrap policy (:mod:`.bootstrap_policy`) grants the scheduler, controller manager,
proxies, DNS and every authenticated user their rights. Like upstream's union authorizer, a
"no" from the fixed rules is no opinion: RBAC may still allow. The fixed rules:

- group ``system:masters``: everything.
- nodes (``system:node:<name>`` in ``system:nodes``), the Node authorizer's restriction: read
  nodes, pods, services, endpoints, endpointslices; read the secrets/configmaps referenced by
  pods bound to that node only; write only its own Node (and status), its own Lease in
  kube-node-lease, events, and pods/status (and delete) of pods bound to it (or of pods that
  do not exist: the write answers 404 as upstream's, and admission checks the binding of
  the pod it finds), create pods (mirror pods) and pods/eviction (NodeRestriction admits
  those of its own pods only); request tokens (serviceaccounts/token) of the ServiceAccounts its pods
  run as; get the VolumeAttachments of volumes attached to it; create and read
  CertificateSigningRequests (its certificates' rotation).
- ``impersonate`` (Impersonate-* headers, see impersonation.py): only as RBAC grants it.
Everything else is denied (403 with the real server's wording, see status.forbidden).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kprov.cluster.apiserver.authz.rbac_index import RbacIndex
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.storage import WatchCache, scope_prefix

if TYPE_CHECKING:
    from kprov.cluster.apiserver.context import ApiContext

__all__ = ["Authorizer", "authorize", "authorizer_of"]

_READ = frozenset({"get", "list", "watch"})
_NODE_READ = frozenset(
    {
        "nodes",
        "pods",
        "services",
        "endpoints",
        "endpointslices",
        "namespaces",
        "persistentvolumeclaims",
        "persistentvolumes",
        "serviceaccounts",
        "runtimeclasses",  # the handler of a pod's RuntimeClass
    }
)


def _pod_refs(pod: dict[str, Any], kind: str) -> set[str]:
    names: set[str] = set()
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if kind == "secrets" and volume.get("secret"):
            names.add(volume["secret"].get("secretName", ""))
        if kind == "configmaps" and volume.get("configMap"):
            names.add(volume["configMap"].get("name", ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            ref = source.get("secret" if kind == "secrets" else "configMap")
            if ref:
                names.add(ref.get("name", ""))
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    for container in containers:
        for env_from in container.get("envFrom") or []:
            ref = env_from.get("secretRef" if kind == "secrets" else "configMapRef")
            if ref:
                names.add(ref.get("name", ""))
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef" if kind == "secrets" else "configMapKeyRef")
            if ref:
                names.add(ref.get("name", ""))
    if kind == "secrets":
        for pull in spec.get("imagePullSecrets") or []:
            names.add(pull.get("name", ""))
    return names


def _bound_pods(cache: WatchCache, node: str, namespace: str) -> list[dict[str, Any]]:
    prefix = scope_prefix("", "pods", namespace)
    return [p for p in cache.objects(prefix) if (p.get("spec") or {}).get("nodeName") == node]


def _node_allows(node: str, ri: RequestInfo, cache: WatchCache) -> bool:
    res, verb, sub = ri.resource, ri.verb, ri.subresource
    if res in ("secrets", "configmaps"):
        if verb != "get" or not ri.name:
            return False
        return any(ri.name in _pod_refs(p, res) for p in _bound_pods(cache, node, ri.namespace))
    if res == "events" or (ri.group == "events.k8s.io"):
        return True
    if res == "certificatesigningrequests" and ri.group == "certificates.k8s.io":
        return verb in ("create", "get", "list", "watch") and not sub  # upstream's node rules
    if res == "volumeattachments" and ri.group == "storage.k8s.io":
        if verb != "get" or sub:
            return False  # the attachments of volumes on this node only (upstream's graph)
        attachment = cache.get(scope_prefix("storage.k8s.io", "volumeattachments", "") + ri.name)
        return attachment is not None and (attachment.get("spec") or {}).get("nodeName") == node
    if res == "serviceaccounts" and sub == "token":
        # the kubelet's TokenRequest, for an account a pod of this node runs as
        return verb == "create" and any(
            ((p.get("spec") or {}).get("serviceAccountName") or "default") == ri.name
            for p in _bound_pods(cache, node, ri.namespace)
        )
    if res == "nodes":
        if verb in _READ and not sub:
            return True
        return (
            ri.name == node
            and verb in ("create", "update", "patch", "get")
            or (verb == "create" and not ri.name)
        )
    if res == "leases" and ri.group == "coordination.k8s.io":
        return ri.namespace == "kube-node-lease" and (
            ri.name in (node, "") and verb in ("get", "create", "update", "patch", "list", "watch")
        )
    if res == "pods":
        if verb in _READ and not sub:
            return True
        if verb == "create" and sub in ("", "eviction"):
            return True  # mirror pods; evictions (NodeRestriction admits only its own pods')
        if sub in ("status", "") and verb in ("update", "patch", "delete", "get"):
            # A pod that is gone is the handler's 404, as upstream (its Node rules allow these
            # verbs and NodeRestriction admission, which needs the pod, checks the binding).
            pod = cache.get(f"/registry/pods/{ri.namespace}/{ri.name}")
            return pod is None or (pod.get("spec") or {}).get("nodeName") == node
        return False
    return verb in _READ and res in _NODE_READ and not sub


def authorize(user: UserInfo, ri: RequestInfo, cache: WatchCache) -> bool:
    if "system:masters" in user.groups:
        return True
    if ri.verb == "impersonate":
        return False  # never from the node rules: only RBAC grants it
    if user.name.startswith("system:node:") and "system:nodes" in user.groups:
        return _node_allows(user.name[len("system:node:") :], ri, cache)
    return False


class Authorizer:
    """The server's authorizer: fixed rules, then RBAC."""

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self.rbac = RbacIndex(cache)

    def allows(self, user: UserInfo, ri: RequestInfo) -> bool:
        return authorize(user, ri, self.cache) or self.rbac.allows(user, ri)

    def is_superuser(self, user: UserInfo) -> bool:
        return "system:masters" in user.groups


def authorizer_of(ctx: ApiContext) -> Authorizer:
    """The server's one Authorizer (made at first use, once the watch cache runs)."""
    return ctx.shared(Authorizer, lambda: Authorizer(ctx.cache))
