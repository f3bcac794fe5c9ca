"""``POST pods/<name>/binding`` and ``POST bindings``: the scheduler's bind, as kube-apiserver's
BindingREST does it.

Design: upstream's binding checks the Binding (ValidatePodBinding: ``target.kind`` Node or
empty, ``target.name`` required; the name on the URL must be the Binding's) and then writes
the pod through the storage layer's guaranteed update, not the pod's update strategy
(pkg/registry/core/pod/storage, ``setPodHostAndAnnotations``): no defaulting, no pod
validation, no managedFields entry and no generation bump. Its mutation refuses a pod being
deleted, one already assigned and one with scheduling gates (409 on ``pods/binding``), sets
``spec.nodeName``, merges the Binding's annotations and sets the PodScheduled condition as
``podutil.UpdatePodCondition`` does (in place; ``lastProbeTime`` null; the old
``lastTransitionTime`` kept when the status was already True). The Binding's uid is a
precondition (409 on ``pods``).

Here the pod is read from the watch cache first (etcd after any failure, as
:func:`.writes.guaranteed_update`), and the new pod is made by copying only the dicts the
binding changes (the pod, its metadata, spec and status, the conditions list): the rest is
shared with the cache's object, which nobody mutates, where a deep copy of the whole pod
cost more than anything else of a binding. (The watch cache's adoption shares managedFields
tries in place: on the shared entries it finds the cache's own tries already, or puts an
equal one in their place, never another value.)

Admission is upstream's for a subresource's create: the chain's stages run once, before the
pod is read, for a CREATE of ``pods/binding`` whose object is the Binding (its kind
``Binding``; the name and namespace the URL's), so webhooks and ValidatingAdmissionPolicies
matching ``pods/binding`` see and may refuse or patch the Binding, and a Binding into a
terminating namespace is refused by NamespaceLifecycle; the plugins that look at a pod skip
it (:mod:`..admission.chain`). The name check and ValidatePodBinding run between the
mutating and validating stages, as upstream's BindingREST sits after the handler's
mutating admission. The Binding's ``metadata.uid`` and ``metadata.resourceVersion`` are the
write's preconditions (409 on ``pods``, as upstream's storage preconditions); ``dryRun=All``
checks everything and writes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.crud import dry_run_values
from kprov.cluster.apiserver.handlers.field_validation import check_subresource_object
from kprov.cluster.apiserver.handlers.lifecycle import go_field_order
from kprov.cluster.apiserver.handlers.writes import starting_copy
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import decode_body, media_type, object_response
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import (
    ApiError,
    StatusError,
    bad_request,
    conflict,
    invalid,
    not_found,
)
from kprov.cluster.storage import KeyNotFoundError, RevisionConflictError

__all__ = ["bind_pod", "bound_pod", "handle_binding"]

_CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


async def handle_binding(
    request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> web.Response:
    """POST pods/<name>/binding or POST bindings (the scheduler's bind): admitted as a CREATE
    of ``pods/binding`` whose object is the Binding, then the pod bound."""
    binding = check_subresource_object("", "v1", "Binding", decode_body(request.body, media_type(request)))
    meta = binding.get("metadata") or {}
    name = ri.name or str(meta.get("name", ""))
    chain = ctx.chain
    dry_run = "All" in dry_run_values(request)
    attrs = AdmissionAttributes(
        info, "CREATE", binding, None, request.requester, "binding", dry_run=dry_run,
        target=(ri.namespace, name),
    )
    attrs = await chain.run(ctx, Stage.MUTATE, attrs)
    binding = attrs.obj
    meta = binding.get("metadata") or {}
    if ri.name and ri.name != str(meta.get("name", "")):
        raise bad_request("name in URL does not match name in Binding object")
    node = _validated_target(ctx, name, binding.get("target") or {})
    await chain.run(ctx, Stage.VALIDATE, attrs)
    await chain.run(ctx, Stage.STORE, attrs)
    annotations = meta.get("annotations") or {}
    await bind_pod(ctx, info, ri.namespace, name, node, meta.get("uid") or "", annotations,
                   revision=str(meta.get("resourceVersion") or ""), dry_run=dry_run)
    return object_response(request, dict(_CREATED), status=201)


def _validated_target(ctx: ApiContext, name: str, target: dict[str, Any]) -> str:
    """The node a Binding names (upstream's ValidatePodBinding: a Node or no kind, a name)."""
    errors = Errors()
    kind = str(target.get("kind") or "")
    if kind and kind != "Node":
        errors.not_supported("target.kind", kind, ("Node", ""))
    node = str(target.get("name") or "")
    if not node:
        errors.required("target.name")
    if errors.causes:
        bindings = ctx.registry.get("", "v1", "bindings")
        assert bindings is not None
        raise invalid(bindings, name, errors.causes)
    return node


def _binding_conflict(name: str, why: str) -> ApiError:
    """409 on ``pods/binding``, as upstream's assignPod names an error of the mutation."""
    return StatusError(
        f'Operation cannot be fulfilled on pods/binding "{name}": {why}',
        409,
        "Conflict",
        {"name": name, "group": "", "kind": "pods/binding"},
    )


def bound_pod(
    info: ResourceInfo, live: dict[str, Any], name: str, node: str, uid: str,
    annotations: dict[str, Any], now: str, revision: str = "",
) -> dict[str, Any]:
    """``live`` bound to ``node``: a new pod sharing every subtree the binding leaves alone
    (``live`` itself is not changed); ``uid`` and ``revision`` (when given) are preconditions."""
    meta = live.get("metadata") or {}
    live_uid = meta.get("uid")
    if uid and uid != live_uid:  # the pod was replaced by one of the same name
        why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {live_uid}"
        raise conflict(info, name, why)
    live_revision = meta.get("resourceVersion")
    if revision and revision != live_revision:
        why = (f"Precondition failed: ResourceVersion in precondition: {revision}, "
               f"ResourceVersion in object meta: {live_revision}")
        raise conflict(info, name, why)
    if meta.get("deletionTimestamp"):
        raise _binding_conflict(name, f"pod {name} is being deleted, cannot be assigned to a host")
    spec = live.get("spec") or {}
    current = spec.get("nodeName")
    if current:
        raise _binding_conflict(name, f'pod {name} is already assigned to node "{current}"')
    if spec.get("schedulingGates"):
        raise _binding_conflict(name, f"pod {name} has non-empty .spec.schedulingGates")
    new = dict(live)
    if annotations:
        new["metadata"] = {**meta, "annotations": {**(meta.get("annotations") or {}), **annotations}}
    else:
        new["metadata"] = dict(meta)
    new["spec"] = {**spec, "nodeName": node}
    if annotations and "annotations" not in meta:  # (metadata's fields in Go's order)
        go_field_order(new)
    status = live.get("status") or {}
    new["status"] = {**status, "conditions": _scheduled(status.get("conditions") or [], now)}
    return new


def _scheduled(conditions: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """The conditions with PodScheduled True (upstream's UpdatePodCondition: in place, the
    transition time kept when it was True already)."""
    out = list(conditions)
    for index, old in enumerate(out):
        if old.get("type") == "PodScheduled":
            since = old.get("lastTransitionTime") if old.get("status") == "True" else now
            out[index] = _condition(since)
            return out
    out.append(_condition(now))
    return out


def _condition(since: Any) -> dict[str, Any]:
    return {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": since}


async def bind_pod(
    ctx: ApiContext, info: ResourceInfo, namespace: str, name: str, node: str, uid: str,
    annotations: dict[str, Any], *, revision: str = "", dry_run: bool = False,
) -> dict[str, Any]:
    """Bind (the Binding admitted already), with the revision check, retried on conflicts;
    the pod as stored (as it would be, on a dry run)."""
    key = ctx.key(info, namespace, name)
    fresh = False  # the first try reads the watch cache; errors are only given after etcd's copy
    for _ in range(20):
        current, fresh = await starting_copy(ctx, info, key, name, fresh)
        try:
            new = bound_pod(info, current.obj, name, node, uid, annotations, now_rfc3339(), revision)
        except ApiError:
            if not fresh:
                fresh = True
                continue
            raise
        if dry_run:
            return new
        try:
            return (await ctx.store.update(key, new, current.revision)).obj
        except RevisionConflictError:
            fresh = True
        except KeyNotFoundError:
            raise not_found(info, name) from None
    raise conflict(info, name, "too many concurrent writers; try again")
