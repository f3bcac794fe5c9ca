"""Checks and side effects around writes, by kind (the API server's built-in admission).

- Namespaced objects can only be created in an existing namespace that is not terminating.
- Namespaces get the ``kubernetes`` finalizer and phase Active (the namespace controller
  empties a terminating namespace and then finalizes it).
- CustomResourceDefinitions and custom objects: see :mod:`.crd_admission`; a CRD this
  server wrote is served at once (``after_write``).
- RBAC objects: nobody grants what they do not hold (:mod:`.escalation`).
- CertificateSigningRequests name their requester (user, uid, groups, extra) and start with
  no status; ``/approval`` changes only the conditions (:mod:`.lifecycle`).
- Pods get their ServiceAccount and its token volume (:mod:`.sa_admission`).
- Pods get ``spec.priority`` from their PriorityClass (:mod:`.priority`).
- Pods get the overhead and scheduling constraints of their RuntimeClass, and are refused if
  it does not exist (:mod:`.runtimeclass_admission`).
- Claims get the default StorageClass; claims and volumes their protection finalizers
  (:mod:`.storage_admission`).
- Ingresses get the default IngressClass (:mod:`.ingressclass`).
- Nodes update only pods bound to themselves (NodeRestriction's check on pods/status), and
  create only mirror pods of their own (:mod:`.node_restriction`).
- Services get a ClusterIP and NodePorts from :mod:`.allocators`; deleting a Service
  releases them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission import crd as crd_admission
from kprov.cluster.apiserver.admission import ingressclass as ingressclass_admission
from kprov.cluster.apiserver.admission import node_restriction, priority
from kprov.cluster.apiserver.admission import runtimeclass as runtimeclass_admission
from kprov.cluster.apiserver.admission import serviceaccount as sa_admission
from kprov.cluster.apiserver.admission import storage as storage_admission
from kprov.cluster.apiserver.admission.attributes import AdmissionAttributes
from kprov.cluster.apiserver.allocators import Allocators
from kprov.cluster.apiserver.authn.chain import UserInfo
from kprov.cluster.apiserver.authn.tokens import user_info
from kprov.cluster.apiserver.authz.chain import authorizer_of
from kprov.cluster.apiserver.authz.escalation import check_escalation
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.front.status import StatusError, already_exists

__all__ = [
    "after_delete",
    "after_failed_create",
    "after_write",
    "before_create",
    "before_delete",
    "before_update",
]


def _allocators(ctx: ApiContext) -> Allocators | None:
    found = ctx.extras.get("allocators")
    return found if isinstance(found, Allocators) else None


async def _check_namespace(ctx: ApiContext, info: ResourceInfo, namespace: str) -> None:
    ns_info = ctx.registry.get("", "v1", "namespaces")
    assert ns_info is not None
    key = ctx.key(ns_info, "", namespace)
    found = await ctx.read_through(key)
    if found is None:
        raise StatusError(
            f'namespaces "{namespace}" not found', 404, "NotFound", {"name": namespace, "kind": "namespaces"}
        )
    if found.get("metadata", {}).get("deletionTimestamp"):
        raise StatusError(
            f"{info.resource} is forbidden: unable to create new content in namespace {namespace} "
            "because it is being terminated",
            403,
            "Forbidden",
            {"name": namespace, "kind": "namespaces"},
        )


def _csr_requester(csr: dict[str, Any], user: UserInfo | None) -> None:
    """A new CSR names who asked (the server's word, never the client's) and has no status."""
    spec = csr.setdefault("spec", {})
    for field in ("username", "uid", "groups", "extra"):
        spec.pop(field, None)
    if user is not None:  # a request's CSR always has one; upstream leaves the fields empty without
        spec.update(user_info(user))
    csr.pop("status", None)


async def before_create(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    info, obj, dry_run = attrs.info, attrs.obj, attrs.dry_run
    await node_restriction.admit_pod_create(ctx, attrs)
    if info.group == "rbac.authorization.k8s.io":
        check_escalation(authorizer_of(ctx), attrs.user, info, obj)
    if (info.group, info.resource) == ("certificates.k8s.io", "certificatesigningrequests"):
        _csr_requester(obj, attrs.user)
    if info.namespaced:
        await _check_namespace(ctx, info, obj["metadata"]["namespace"])
    if info.custom is not None or info.group == "apiextensions.k8s.io":
        crd_admission.before_create(ctx, info, obj)
    if info.group == "" and info.resource == "pods":
        await priority.admit_pod(ctx, obj)
        await runtimeclass_admission.admit_pod(ctx, obj)
    if info.group == "" and info.resource == "namespaces":
        spec = obj.setdefault("spec", {})
        if "kubernetes" not in (spec.get("finalizers") or []):
            spec["finalizers"] = [*(spec.get("finalizers") or []), "kubernetes"]
        obj["status"] = {"phase": "Active"}
    if info.group == "" and info.resource == "pods" and (
        sa_admission.PLUGIN_NAME not in ctx.config.disable_admission_plugins
    ):
        await sa_admission.admit_pod(ctx, obj)
    await storage_admission.admit_create(ctx, info, obj)
    await ingressclass_admission.admit_create(ctx, info, obj)
    if info.group == "" and info.resource == "services":
        meta = obj["metadata"]
        if await ctx.store.get(ctx.key(info, meta["namespace"], meta["name"])) is not None:
            raise already_exists(info, meta["name"])  # before claiming its IP, which would fail first
        allocators = _allocators(ctx)
        if allocators is not None:
            await allocators.allocate_service(obj, dry_run)


def _node_restriction(attrs: AdmissionAttributes, old: Mapping[str, Any], action: str) -> None:
    """NodeRestriction: a node writes only pods bound to itself (the authorizer let through a
    write to a pod its cache did not hold, so the 404 of a deleted pod is the handler's)."""
    node, info = attrs.node_name, attrs.info
    if not node or info.group != "" or info.resource != "pods":
        return
    if (old.get("spec") or {}).get("nodeName") != node:
        name = str((old.get("metadata") or {}).get("name", ""))
        raise StatusError(
            f'pods "{name}" is forbidden: node "{node}" can only {action} with spec.nodeName set to itself',
            403,
            "Forbidden",
            {"name": name, "kind": "pods"},
        )


def before_delete(attrs: AdmissionAttributes) -> None:
    """A DELETE's checks; the attributes' ``old`` is the object to delete."""
    _node_restriction(attrs, attrs.old or {}, "delete pods")


async def before_update(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """An UPDATE's checks and side effects; ``old`` is what is stored, ``obj`` what will be."""
    info, old, new, dry_run = attrs.info, dict(attrs.old or {}), attrs.obj, attrs.dry_run
    _node_restriction(attrs, old, "update pod status for pods")
    if info.group == "rbac.authorization.k8s.io":
        check_escalation(authorizer_of(ctx), attrs.user, info, new)
    if info.group == "apiextensions.k8s.io":
        crd_admission.before_update(ctx, info, old, new)
    if info.group == "" and info.resource == "services":
        allocators = _allocators(ctx)
        if allocators is not None:
            await allocators.update_service(old, new, dry_run)


def after_write(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any] | None, name: str) -> None:
    """A write this server made has been stored (``obj`` None: deleted): CRDs are served (or
    not) from this moment on this server, before its watch cache hears of them."""
    if crd_admission.is_crd(info):
        served = ctx.extras.get("custom_resources")
        if served is not None:
            served.observe(name, obj)


async def after_failed_create(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    await after_delete(ctx, info, obj)


async def after_delete(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    if info.group == "" and info.resource == "services":
        allocators = _allocators(ctx)
        if allocators is not None:
            await allocators.release_service(obj)
