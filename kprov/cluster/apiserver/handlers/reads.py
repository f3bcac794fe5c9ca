"""Reads: one object, a list (paged, as a Table, or as stored bytes when nothing changes
them), and how an object is rendered for the client (its version, a Table, warnings).

Design: a list of built-in objects is sent as the watch cache's encoded bytes, joined,
without decoding them again; custom objects are converted per request.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.wire.protobuf_encode import encodable
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.aggregation import conversion
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.listing import list_objects, make_matcher
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import (
    JSON,
    go_list_body,
    json_bytes,
    json_response,
    object_response,
    wants_protobuf,
    wants_table,
)
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import (
    bad_request,
    not_found,
)
from kprov.cluster.apiserver.request.warning import take_warnings

__all__ = ["get_object", "handle_list", "render", "render_object"]


def render_object(
    request: ApiRequest,
    info: ResourceInfo,
    obj: dict[str, Any],
    status: int = 200,
    warnings: list[str] | None = None,
) -> web.Response:
    headers = None
    obj = _lib.as_version(info, obj)
    admitted = take_warnings()  # what admission added (PodSecurity)
    if admitted:
        warnings = [*(warnings or []), *admitted]
    if warnings:
        headers = {"Warning": ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in warnings)}
    if wants_table(request):
        table = _lib.table(info, [obj], request.query.get("includeObject", "Metadata"))
        table["metadata"] = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        return json_response(table, status, headers)
    return object_response(request, obj, status, headers)


async def render(
    request: ApiRequest,
    ctx: ApiContext,
    info: ResourceInfo,
    obj: dict[str, Any],
    status: int = 200,
    warnings: list[str] | None = None,
    *,
    written: bool = False,
) -> web.Response:
    """:func:`render_object` of a stored object read in ``info``'s version (defaulted from
    storage unless this request has just ``written`` it, converted)."""
    if info.custom is not None or conversion.builtin_converts(info):
        (obj,) = await conversion.read(ctx, info, [obj], defaults=not written)
    return render_object(request, info, obj, status, warnings)


async def get_object(ctx: ApiContext, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
    stored = await ctx.store.get(ctx.key(info, namespace, name))
    if stored is None:
        raise not_found(info, name)
    return stored.obj


async def handle_list(
    request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> web.Response:
    query = request.query
    matches = make_matcher(info, query.get("labelSelector"), query.get("fieldSelector"))
    try:
        limit = int(query.get("limit") or 0)
    except ValueError:
        raise bad_request(f"invalid limit {query.get('limit')!r}") from None
    result = await list_objects(
        ctx,
        info,
        ri.namespace,
        matches,
        limit=max(limit, 0),
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion", ""),
    )
    meta: dict[str, Any] = {"resourceVersion": str(result.revision)}
    if result.continue_token:
        meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
    items, changed = result.items, False
    if _lib.converts(info):  # custom objects as the read shows them; stored bytes if unchanged
        items = await conversion.read(ctx, info, result.items)
        changed = any(shown is not stored for shown, stored in zip(items, result.items, strict=True))
    if wants_table(request):
        table = _lib.table(info, items, query.get("includeObject", "Metadata"))
        table["metadata"] = meta
        return json_response(table)
    if changed:
        listed = {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta}
        return object_response(request, {**listed, "items": items})
    if wants_protobuf(request) and encodable(info.api_version, info.list_kind):
        listed = {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta}
        return object_response(request, {**listed, "items": result.items})
    head = json_bytes({"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta})
    encoded = (ctx.cache.encoded(_key_of(ctx, info, obj), obj) for obj in result.items)
    return web.Response(body=go_list_body(head, encoded), content_type=JSON)


def _key_of(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return ctx.key(info, meta.get("namespace", ""), meta.get("name", ""))

