"""REST verbs on resources: get, list, create, update (PUT), patch, delete, deletecollection.

Every write reads the current object, computes the new one with the pure functions of
:mod:`.lifecycle` and kprov.cluster.api (defaults, validation, patches), and stores it with a
compare-and-swap on the revision it read; on a lost race it retries from a fresh read unless
the client pinned a resourceVersion (then: 409 Conflict). A write that changes nothing is
not written (the resourceVersion stays). ``dryRun=All`` runs everything but the write.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kprov.cluster.api.kinds.status_zeros import fill_status_zeros
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.aggregation import conversion
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import field_validation
from kprov.cluster.apiserver.handlers.deletion import delete_now, delete_object
from kprov.cluster.apiserver.handlers.field_manager import apply_manager, field_manager, refuse_force
from kprov.cluster.apiserver.handlers.lifecycle import (
    is_noop,
    prepare_create,
    prepare_update,
    ready_to_delete,
)
from kprov.cluster.apiserver.handlers.listing import list_objects, make_matcher
from kprov.cluster.apiserver.handlers.reads import get_object, handle_list, render
from kprov.cluster.apiserver.handlers.storage_hooks import after_failed_create, after_write
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import (
    PATCH_TYPES,
    decode_body,
    media_type,
    object_response,
)
from kprov.cluster.apiserver.request.requestinfo import RequestInfo, parse_bool
from kprov.cluster.apiserver.request.status import (
    MODIFIED,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    not_found,
    success_status,
)
from kprov.cluster.storage import KeyExistsError, KeyNotFoundError, RevisionConflictError, StoredObject

__all__ = [
    "Mutation",
    "create_object",
    "delete_object",
    "guaranteed_update",
    "handle_collection",
    "handle_object",
    "resource_version_of",
]

Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def _dry_run(request: ApiRequest) -> bool:
    values = request.query.getall("dryRun", [])
    if any(v not in ("All", "") for v in values):
        raise bad_request(f"unsupported dryRun value {values[0]!r}: only All")
    return "All" in values


# -- writes ------------------------------------------------------------------------------------
async def create_object(
    ctx: ApiContext,
    request: ApiRequest | None,
    info: ResourceInfo,
    namespace: str,
    obj: Any,
    dry_run: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Create through defaults and admission, as ``request``'s user; ``request`` None: the API
    server itself writes."""
    user = request.user if request is not None else None
    obj = prepare_create(info, obj, namespace)
    _lib.drop_unknown_fields(info, obj)
    warnings: list[str] = []  # field validation is the handlers' (they have the body)
    _lib.apply_defaults(info, obj)
    chain = ctx.chain
    attrs = AdmissionAttributes(info, "CREATE", obj, None, user, dry_run=dry_run)
    attrs = await chain.run(ctx, Stage.MUTATE, attrs)
    obj = attrs.obj
    _lib.validate(info, obj, None)
    await chain.run(ctx, Stage.VALIDATE, attrs)
    fill_status_zeros(info, obj)
    name = obj["metadata"]["name"]
    if request is not None and not obj["metadata"].get("managedFields"):
        _lib.record_update(info, None, obj, field_manager(request, "CreateOptions"))
    await chain.run(ctx, Stage.STORE, attrs)
    if dry_run:
        return obj, warnings
    try:
        stored_form = await conversion.to_storage(ctx, info, obj)
        stored = await ctx.store.create(ctx.key(info, namespace, name), stored_form)
    except BaseException as exc:
        await after_failed_create(ctx, info, obj)
        if isinstance(exc, KeyExistsError):
            raise already_exists(info, name) from None
        raise
    after_write(ctx, info, stored.obj, name)
    return stored.obj, warnings


async def guaranteed_update(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    name: str,
    mutate: Mutation,
    *,
    pinned_revision: int | None = None,
    dry_run: bool = False,
    subresource: str = "",
    field_manager: str = "",
    user: UserInfo | None = None,
) -> dict[str, Any]:
    """Read, mutate, admit and write with the revision check, retried on conflicts;
    ``user`` None: the API server itself writes."""
    key, chain = ctx.key(info, namespace, name), ctx.chain
    # The first try starts from the watch cache's copy (no etcd read), as kube-apiserver
    # does; the write's revision check catches a stale copy. Any answer other than a
    # successful write (not found, a pinned revision that differs, no change, an error from
    # the mutation or validation) is only given after a fresh read from etcd.
    fresh = False
    for _ in range(20):
        current = None if fresh else _cached(ctx, key)
        if current is None:
            fresh = True
            current = await ctx.store.get(key)
            if current is None:
                raise not_found(info, name)
        if pinned_revision is not None and pinned_revision != current.revision:
            if not fresh:
                fresh = True
                continue
            raise conflict(info, name, MODIFIED)
        try:
            (shown,) = await conversion.read(ctx, info, [current.obj])
            new = prepare_update(info, shown, mutate(copy.deepcopy(shown)), subresource)
            _lib.drop_unknown_fields(info, new)
            if subresource != "status" or info.custom is not None:
                _lib.apply_defaults(info, new)
            attrs = AdmissionAttributes(info, "UPDATE", new, shown, user, subresource, dry_run)
            attrs = await chain.run(ctx, Stage.MUTATE, attrs)
            new = attrs.obj
            _lib.validate(info, new, shown, subresource)
            await chain.run(ctx, Stage.VALIDATE, attrs)
            fill_status_zeros(info, new)
            new = await conversion.to_storage(ctx, info, new)
        except ApiError:
            if not fresh:
                fresh = True
                continue
            raise
        if is_noop(current.obj, new) and not (await ctx.store.stale(key)):
            if not fresh:
                fresh = True
                continue
            return current.obj
        _lib.record_update(info, current.obj, new, field_manager, subresource)
        stored_attrs = AdmissionAttributes(info, "UPDATE", new, current.obj, user, subresource, dry_run)
        await chain.run(ctx, Stage.STORE, stored_attrs)
        if dry_run:
            return new
        try:
            stored = await ctx.store.update(key, new, current.revision)
        except RevisionConflictError:
            if pinned_revision is not None:
                raise conflict(info, name, MODIFIED) from None
            fresh = True
            continue
        except KeyNotFoundError:
            raise not_found(info, name) from None
        if ready_to_delete(info, stored.obj):
            return await delete_now(ctx, info, stored.obj, stored.revision)
        after_write(ctx, info, stored.obj, name)
        return stored.obj
    raise conflict(info, name, "too many concurrent writers; try again")


def _cached(ctx: ApiContext, key: str) -> StoredObject | None:
    obj = ctx.cache.get(key)
    version = (obj or {}).get("metadata", {}).get("resourceVersion")
    return StoredObject(key, obj, int(version)) if obj is not None and version else None


# -- handlers ----------------------------------------------------------------------------------
async def _read_json_options(request: ApiRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.body.strip():
        decoded = decode_body(request.body, media_type(request))
        if not isinstance(decoded, dict):
            raise bad_request("DeleteOptions must be a JSON object")
        options.update(decoded)
    for name in ("gracePeriodSeconds", "propagationPolicy"):
        if name in request.query:
            options[name] = request.query[name]
    if "orphanDependents" in request.query:
        options["orphanDependents"] = parse_bool(request.query["orphanDependents"])
    if "gracePeriodSeconds" in options:
        try:
            options["gracePeriodSeconds"] = int(options["gracePeriodSeconds"])
        except (TypeError, ValueError):
            raise bad_request("gracePeriodSeconds must be an integer") from None
    return options


async def handle_collection(
    request: ApiRequest,
    ctx: ApiContext,
    info: ResourceInfo,
    ri: RequestInfo,
) -> web.Response:
    if ri.verb == "list":
        return await handle_list(request, ctx, info, ri)
    user = request.requester
    body = request.body
    if ri.verb == "create":
        obj = decode_body(body, media_type(request))
        field_validation.check_types(info, obj)
        warnings: list[str] = []
        if isinstance(obj, dict):
            warnings = field_validation.check_body(request, info, obj, media_type(request))
        created, _ = await create_object(ctx, request, info, ri.namespace, obj, _dry_run(request))
        return await render(request, ctx, info, created, 201, warnings, written=True)
    if ri.verb == "deletecollection":
        matches = make_matcher(info, request.query.get("labelSelector"), request.query.get("fieldSelector"))
        result = await list_objects(ctx, info, ri.namespace, matches)
        options = await _read_json_options(request)
        deleted = []
        for obj in result.items:
            meta = obj["metadata"]
            try:
                gone, _ = await delete_object(
                    ctx, info, meta.get("namespace", ""), meta["name"], options, _dry_run(request), user=user
                )
                deleted.append(gone)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        body_out = {
            "kind": info.list_kind,
            "apiVersion": info.api_version,
            "metadata": {"resourceVersion": str(ctx.cache.revision)},
            "items": deleted,
        }
        return object_response(request, body_out)
    raise ApiError(
        f"the server does not allow this method on the requested resource ({ri.verb})",
        405,
        "MethodNotAllowed",
    )


def resource_version_of(obj: Any) -> int | None:
    """A body's metadata.resourceVersion as a revision (None: not pinned); 400 when not a number."""
    raw = (obj.get("metadata") or {}).get("resourceVersion") if isinstance(obj, dict) else None
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"invalid resourceVersion {raw!r}") from None


async def handle_object(
    request: ApiRequest,
    ctx: ApiContext,
    info: ResourceInfo,
    ri: RequestInfo,
    subresource: str = "",
) -> web.Response:
    """get/update/patch/delete of one object (``subresource`` is "" or "status")."""
    dry_run = _dry_run(request) if ri.verb in ("update", "patch", "delete") else False
    if ri.verb == "get":
        return await render(request, ctx, info, await get_object(ctx, info, ri.namespace, ri.name))
    user = request.requester
    body = request.body
    if ri.verb == "update":
        new = decode_body(body, media_type(request))
        if not isinstance(new, dict):
            raise bad_request("the request body must be a JSON object")
        field_validation.check_types(info, new)
        warnings = field_validation.check_body(request, info, new, media_type(request))
        pinned = resource_version_of(new)
        try:
            obj = await guaranteed_update(
                ctx,
                info,
                ri.namespace,
                ri.name,
                lambda _old: copy.deepcopy(new),
                pinned_revision=pinned,
                dry_run=dry_run,
                subresource=subresource,
                field_manager=field_manager(request, "UpdateOptions"),
                user=user,
            )
        except ApiError as exc:
            # a custom resource is never created by an update (its strategy's AllowCreateOnUpdate)
            if exc.code != 404 or subresource or pinned is not None or info.custom is not None:
                raise
            obj, _ = await create_object(ctx, request, info, ri.namespace, new, dry_run)
            return await render(request, ctx, info, obj, 201, warnings, written=True)
        return await render(request, ctx, info, obj, 200, warnings, written=True)
    if ri.verb == "patch":
        return await _patch(request, ctx, info, ri, subresource, dry_run)
    if ri.verb == "delete":
        options = await _read_json_options(request)
        obj, now = await delete_object(ctx, info, ri.namespace, ri.name, options, dry_run, user=user)
        if not now or info.resource != "namespaces":
            return await render(request, ctx, info, obj, 200)
        return object_response(request, success_status(info, ri.name, obj["metadata"].get("uid", "")))
    raise ApiError(
        f"the server does not allow this method on the requested resource ({ri.verb})",
        405,
        "MethodNotAllowed",
    )


async def _server_side_apply(
    request: ApiRequest,
    ctx: ApiContext,
    info: ResourceInfo,
    ri: RequestInfo,
    subresource: str,
    dry_run: bool,
) -> web.Response:
    """PATCH with an apply configuration: merged by field ownership, created when absent."""
    content_type = "application/apply-patch+yaml"
    user = request.requester
    body = request.body
    applied = decode_body(body, "application/yaml")
    if not isinstance(applied, dict):
        raise bad_request("an apply patch must be an object")
    warnings = field_validation.check_apply(request, info, applied, ri.namespace)
    manager = apply_manager(request)
    force = parse_bool(request.query.get("force"))
    applied.setdefault("metadata", {}).setdefault("name", ri.name)
    try:
        obj = await guaranteed_update(
            ctx,
            info,
            ri.namespace,
            ri.name,
            lambda live: _lib.apply_patch(
                content_type,
                live,
                body,
                info,
                field_manager=manager,
                force=force,
                subresource=subresource,
            ),
            dry_run=dry_run,
            subresource=subresource,
            user=user,
        )
    except ApiError as exc:
        if exc.code != 404 or subresource:
            raise
        new = _lib.apply_patch(content_type, None, body, info, field_manager=manager, force=force)
        obj, _ = await create_object(ctx, request, info, ri.namespace, new, dry_run)
        return await render(request, ctx, info, obj, 201, warnings, written=True)
    return await render(request, ctx, info, obj, 200, warnings, written=True)


async def _patch(
    request: ApiRequest,
    ctx: ApiContext,
    info: ResourceInfo,
    ri: RequestInfo,
    subresource: str,
    dry_run: bool,
) -> web.Response:
    content_type = media_type(request)
    user = request.requester
    body = request.body
    accepted: tuple[str, ...] = PATCH_TYPES
    if info.custom is not None:  # no strategic merge patch for custom objects, as upstream
        accepted = tuple(t for t in PATCH_TYPES if t != "application/strategic-merge-patch+json")
    if content_type not in accepted:
        raise ApiError(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(accepted)}",
            415,
            "UnsupportedMediaType",
        )
    if content_type == "application/apply-patch+yaml":
        return await _server_side_apply(request, ctx, info, ri, subresource, dry_run)
    warnings: list[str] = []
    refuse_force(request)
    manager = field_manager(request, "PatchOptions")

    def mutate(live: dict[str, Any]) -> dict[str, Any]:
        patched = _lib.apply_patch(
            content_type,
            live,
            body,
            info,
            field_manager=manager,
            subresource=subresource,
        )
        # a resourceVersion the patch sets is a precondition, as upstream (controllers patch
        # with the version they read so a pod that changed meanwhile is not overwritten)
        wanted = (patched.get("metadata") or {}).get("resourceVersion")
        if wanted and str(wanted) != str((live.get("metadata") or {}).get("resourceVersion")):
            raise conflict(info, ri.name, MODIFIED)
        warnings[:] = field_validation.check_patched(request, info, patched)
        return patched

    obj = await guaranteed_update(
        ctx,
        info,
        ri.namespace,
        ri.name,
        mutate,
        dry_run=dry_run,
        subresource=subresource,
        field_manager=manager,
        user=user,
    )
    return await render(request, ctx, info, obj, 200, warnings, written=True)
