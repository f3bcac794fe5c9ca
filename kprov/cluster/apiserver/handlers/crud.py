"""REST verbs on resources: get, list, create, update (PUT), patch, delete, deletecollection.

Each reads its request (body, options, ``dryRun=All``: everything but the write) and writes
through :mod:`.writes` (create and the guaranteed update) or :mod:`.deletion`.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import field_validation
from kprov.cluster.apiserver.handlers.deletion import delete_object
from kprov.cluster.apiserver.handlers.field_manager import apply_manager, field_manager, refuse_force
from kprov.cluster.apiserver.handlers.listing import list_objects, make_matcher
from kprov.cluster.apiserver.handlers.reads import get_object, handle_list, render
from kprov.cluster.apiserver.handlers.writes import create_object, guaranteed_update
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
    bad_request,
    conflict,
    success_status,
)

__all__ = ["dry_run_values", "handle_collection", "handle_object", "resource_version_of"]


def dry_run_values(request: ApiRequest) -> list[str]:
    """The request's ``dryRun`` values (400 for any but ``All``)."""
    values: list[str] = request.query.getall("dryRun", [])
    if any(v not in ("All", "") for v in values):
        raise bad_request(f"unsupported dryRun value {values[0]!r}: only All")
    return [v for v in values if v]


def _dry_run(request: ApiRequest) -> bool:
    return "All" in dry_run_values(request)


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
