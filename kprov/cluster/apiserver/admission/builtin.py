"""The built-in steps of the admission chain that are not a plugin module of their own.

Each is a step of :mod:`.plugins`' list (which also names the plugin modules: ServiceAccount,
Priority, RuntimeClass, the default classes, NodeRestriction's create check, quota):

- NamespaceLifecycle: namespaced objects (and pods' Bindings) are created only in an
  existing namespace that is not terminating;
- a new namespace gets the ``kubernetes`` finalizer and phase Active (the namespace
  controller empties a terminating namespace and then finalizes it);
- CustomResourceDefinitions and custom objects: names not taken (:mod:`.crd`);
- RBAC objects: nobody grants what they do not hold (:mod:`..authz.escalation`);
- CertificateSigningRequests name their requester (user, uid, groups, extra) and start
  with no status;
- NodeRestriction: nodes update and delete only pods bound to themselves;
- Services get a ClusterIP and NodePorts from :mod:`..allocators` (released by the
  handlers' storage hooks when the Service goes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.errors import Cause, InvalidError
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission import crd as crd_admission
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.authz.chain import authorizer_of
from kprov.cluster.apiserver.authz.escalation import check_escalation
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.identity import UserInfo, user_info
from kprov.cluster.apiserver.request.status import StatusError, already_exists, invalid, refused

__all__ = [
    "crd_names",
    "csr_requester",
    "namespace_finalizer",
    "namespace_lifecycle",
    "node_restriction_delete",
    "node_restriction_update",
    "rbac_escalation",
    "service_addresses",
]


async def _check_namespace(ctx: ApiContext, info: ResourceInfo, namespace: str, name: str) -> None:
    """The namespace exists and is not terminating; a refusal as upstream's NamespaceLifecycle
    words it (``name``: the object's, as admission's Forbidden names it)."""
    ns_info = ctx.registry.get("", "v1", "namespaces")
    assert ns_info is not None
    key = ctx.key(ns_info, "", namespace)
    found = await ctx.read_through(key)
    if found is None:
        raise StatusError(
            f'namespaces "{namespace}" not found', 404, "NotFound", {"name": namespace, "kind": "namespaces"}
        )
    if found.get("metadata", {}).get("deletionTimestamp"):
        named = f'{info.group_resource} "{name}"' if name else info.group_resource
        error = StatusError(
            f"{named} is forbidden: unable to create new content in namespace {namespace} "
            "because it is being terminated",
            403,
            "Forbidden",
            {"name": name, "group": info.group, "kind": info.resource},
        )
        error.causes = [
            Cause("metadata.namespace", "NamespaceTerminating", f"namespace {namespace} is being terminated")
        ]
        raise error


def _csr_requester(csr: dict[str, Any], user: UserInfo | None) -> None:
    """A new CSR names who asked (the server's word, never the client's) and has no status."""
    spec = csr.setdefault("spec", {})
    for field in ("username", "uid", "groups", "extra"):
        spec.pop(field, None)
    if user is not None:  # a request's CSR always has one; upstream leaves the fields empty without
        spec.update(user_info(user))
    csr.pop("status", None)


def _node_restriction(attrs: AdmissionAttributes, old: Mapping[str, Any], action: str) -> None:
    """NodeRestriction: a node writes only pods bound to itself (the authorizer let through a
    write to a pod its cache did not hold, so the 404 of a deleted pod is the handler's)."""
    node, info = attrs.node_name, attrs.info
    if not node or info.group != "" or info.resource != "pods":
        return
    if (old.get("spec") or {}).get("nodeName") != node:
        name = str((old.get("metadata") or {}).get("name", ""))
        raise refused("", "pods", name, f'node "{node}" can only {action} with spec.nodeName set to itself')


async def node_restriction_update(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    _node_restriction(attrs, attrs.old or {}, "update pod status for pods")


async def node_restriction_delete(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """A DELETE's check; the attributes' ``old`` is the object to delete."""
    _node_restriction(attrs, attrs.old or {}, "delete pods")


async def rbac_escalation(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Nobody grants what they do not hold (upstream's RBAC storage strategy)."""
    check_escalation(authorizer_of(ctx), attrs.user, attrs.info, attrs.obj)


async def csr_requester(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    _csr_requester(attrs.obj, attrs.user)


async def namespace_lifecycle(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Namespaced objects (and a pod's Binding) are created only in a namespace that is there
    and not terminating; the Binding may leave its namespace out: the URL's counts."""
    namespace, name = attrs.namespace_and_name
    if not name:  # (a generated name: upstream's refusal names the prefix)
        name = str(((attrs.obj or {}).get("metadata") or {}).get("generateName") or "")
    await _check_namespace(ctx, attrs.info, namespace, name)


async def namespace_finalizer(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """A new namespace gets the ``kubernetes`` finalizer and phase Active."""
    obj = attrs.obj
    spec = obj.setdefault("spec", {})
    if "kubernetes" not in (spec.get("finalizers") or []):
        spec["finalizers"] = [*(spec.get("finalizers") or []), "kubernetes"]
    obj["status"] = {"phase": "Active"}


async def crd_names(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    if attrs.operation == "CREATE":
        crd_admission.before_create(ctx, attrs.info, attrs.obj)
    else:
        crd_admission.before_update(ctx, attrs.info, dict(attrs.old or {}), attrs.obj)


async def service_addresses(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """A new Service's cluster IPs and NodePorts (a changed one's, on update); a refusal
    carries the Status details, so kubectl prints `The Service "x" is invalid: ...`."""
    try:
        await _service_addresses(ctx, attrs)
    except InvalidError as error:
        raise invalid(attrs.info, attrs.obj["metadata"]["name"], error.causes) from None


async def _service_addresses(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    info, obj = attrs.info, attrs.obj
    if attrs.operation == "UPDATE":
        allocators = ctx.allocators
        if allocators is not None:
            await allocators.update_service(dict(attrs.old or {}), obj, attrs.dry_run)
        return
    meta = obj["metadata"]
    if await ctx.store.get(ctx.key(info, meta["namespace"], meta["name"])) is not None:
        raise already_exists(info, meta["name"])  # before claiming its IP, which would fail first
    allocators = ctx.allocators
    if allocators is not None:
        await allocators.allocate_service(obj, attrs.dry_run)
