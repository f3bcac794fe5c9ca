"""Resource requests to their handlers: the special kinds and the subresources, as tables.

Design (upstream's REST storage map: each resource declares its subresources with their
storage): :data:`SUBRESOURCES` names, per resource, the subresources it has and what
serves each, with the verbs served (others: 404); :data:`ANY_KIND` holds those any kind
may declare (``status``, ``scale``: built-in kinds and custom resources alike).
:data:`SPECIAL_KINDS` holds the kinds no storage backs (bindings, access and token reviews),
answered before the registry is asked. :func:`serve_resource` dispatches by lookup: a
subresource the kind does not declare, or a verb its route does not serve, is a 404, as
before. A route's function returns the handler's awaitable (no coroutine of its own), so
the table adds one dictionary read and no call level to a status update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.authn import tokens
from kprov.cluster.apiserver.authn.chain import Authenticator
from kprov.cluster.apiserver.authz import accessreview
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import (
    binding,
    componentstatus,
    crud,
    eviction,
    http_proxy,
    subresources,
    watch,
)
from kprov.cluster.apiserver.handlers import kubelet_proxy as proxy
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection
from kprov.cluster.apiserver.request.negotiation import json_response, wants_table
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import method_not_supported
from kprov.cluster.apiserver.request.wire import AnyRequest, Request

__all__ = ["ANY_KIND", "SPECIAL_KINDS", "SUBRESOURCES", "Route", "not_found_body", "serve_resource"]

# (raw request, decoded request, context, the kind, request info) -> the handler's reply
Serve = Callable[[AnyRequest, ApiRequest, ApiContext, ResourceInfo, RequestInfo], Awaitable[Any]]
# a special kind's: (raw, decoded (with its body), context, request info, authenticator)
ServeKind = Callable[[AnyRequest, ApiRequest, ApiContext, RequestInfo, Authenticator], Awaitable[Any]]

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NONE: dict[str, Any] = {}  # (an absent group's resources; never written)
_READ_WRITE = frozenset({"get", "update", "patch"})


@dataclass(frozen=True)
class Route:
    serve: Serve
    verbs: frozenset[str] | None = None  # None: every verb (the handler answers the others)


@dataclass(frozen=True)
class KindRoute:
    serve: ServeKind
    cluster_only: bool = False  # a namespaced path does not reach it
    reads_body: bool = True


def not_found_body() -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    return json_response(body, 404)


# -- the subresources ------------------------------------------------------------------------
def _object(subresource: str) -> Serve:
    def serve(
        raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
    ) -> Any:
        return crud.handle_object(request, ctx, info, ri, subresource=subresource)

    return serve


def _scale(raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo) -> Any:
    return subresources.handle_scale(request, ctx, info, ri)


def _binding(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> Any:
    return binding.handle_binding(request, ctx, info, ri)


def _eviction(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> Any:
    return eviction.handle_eviction(request, ctx, info, ri)


def _token(raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo) -> Any:
    return tokens.handle_token_request(request, ctx, ri)


def _streamed(handler: Callable[..., Awaitable[Any]]) -> Serve:
    """A kubelet-proxied subresource: its handler also gets the connection (to upgrade)."""

    def serve(
        raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
    ) -> Any:
        return handler(request, Connection(raw), ctx, info, ri)

    return serve


def _http_proxy(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> Any:
    return http_proxy.handle_proxy(request, ctx, info, ri)


ANY_KIND: dict[str, Route] = {"status": Route(_object("status")), "scale": Route(_scale)}

_PROXY = Route(_http_proxy)
SUBRESOURCES: dict[tuple[str, str], dict[str, Route]] = {
    ("", "pods"): {
        "ephemeralcontainers": Route(_object("ephemeralcontainers"), _READ_WRITE),
        "binding": Route(_binding, frozenset({"create"})),
        "eviction": Route(_eviction, frozenset({"create"})),
        "log": Route(_streamed(proxy.handle_log), frozenset({"get"})),
        "exec": Route(_streamed(proxy.handle_exec)),
        "attach": Route(_streamed(proxy.handle_attach)),
        "portforward": Route(_streamed(proxy.handle_portforward)),
        "proxy": _PROXY,
    },
    ("", "services"): {"proxy": _PROXY},
    ("", "nodes"): {"proxy": _PROXY},
    ("", "serviceaccounts"): {"token": Route(_token)},
    ("", "namespaces"): {"finalize": Route(_object("finalize"), frozenset({"update"}))},
    ("certificates.k8s.io", "certificatesigningrequests"): {
        "approval": Route(_object("approval"), _READ_WRITE),
    },
}


def _by_group(table: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
    """A (group, resource) table as group -> resource -> entry: a request's lookup reads the
    strings it holds, building no key."""
    out: dict[str, dict[str, Any]] = {}
    for (group, resource), entry in table.items():
        out.setdefault(group, {})[resource] = entry
    return out


_SUBRESOURCES_BY_GROUP: dict[str, dict[str, dict[str, Route]]] = _by_group(SUBRESOURCES)


def _route(info: ResourceInfo, subresource: str) -> Route | None:
    found = ANY_KIND.get(subresource)
    if found is not None:
        return found
    declared = _SUBRESOURCES_BY_GROUP.get(info.group, _NONE).get(info.resource)
    return declared.get(subresource) if declared is not None else None


# -- the kinds no storage backs ----------------------------------------------------------------
async def _create_binding(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, ri: RequestInfo, authn: Authenticator
) -> Any:
    pods = ctx.registry.get("", "v1", "pods")
    assert pods is not None
    return await binding.handle_binding(request, ctx, pods, ri)


async def _access_review(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, ri: RequestInfo, authn: Authenticator
) -> Any:
    return await accessreview.handle_review(request, ctx, ri)


async def _token_review(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, ri: RequestInfo, authn: Authenticator
) -> Any:
    return await tokens.handle_token_review(request, ctx, authn)


async def _self_subject_review(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, ri: RequestInfo, authn: Authenticator
) -> Any:
    return await tokens.handle_self_subject_review(request.requester)


# create-only, answered before the registry (their POST carries the body they read)
SPECIAL_KINDS: dict[tuple[str, str], KindRoute] = {
    ("", "bindings"): KindRoute(_create_binding),
    **{("authorization.k8s.io", kind): KindRoute(_access_review) for kind in accessreview.KINDS},
    ("authentication.k8s.io", "tokenreviews"): KindRoute(_token_review, cluster_only=True),
    ("authentication.k8s.io", "selfsubjectreviews"): KindRoute(
        _self_subject_review, cluster_only=True, reads_body=False
    ),
}
_SPECIAL_BY_GROUP: dict[str, dict[str, KindRoute]] = _by_group(SPECIAL_KINDS)
_REVIEW_GROUPS = ("authentication.k8s.io", "authorization.k8s.io")  # answered before the registry
_NO_TABLE_SUBRESOURCES = ("token", "eviction", "binding")


def _refuse_tables(request: ApiRequest, ri: RequestInfo, special: bool) -> None:
    """Create-only kinds without metadata (access and token reviews, bindings, and the
    token, eviction and binding subresources) cannot be shown as a Table: 406, as
    kube-apiserver answers before reading the body."""
    virtual = special or ri.subresource in _NO_TABLE_SUBRESOURCES
    if virtual and ri.verb == "create" and wants_table(request):
        raise ApiError(
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf",
            406,
            "NotAcceptable",
        )


async def with_body(raw: AnyRequest, request: ApiRequest) -> ApiRequest:
    """``request`` with its body: the lean front's is in it already, aiohttp's is read here
    (where a handler read it before, so a body too large is refused at the same point)."""
    return request if isinstance(raw, Request) else request.with_body(await raw.read())


async def serve_resource(
    raw: AnyRequest, request: ApiRequest, ctx: ApiContext, ri: RequestInfo, authenticator: Authenticator
) -> Any:
    """A resource path's reply: each handler reads its body and user from ``request`` (the
    body only of a POST, PUT, PATCH or DELETE: empty for the other methods)."""
    special = _SPECIAL_BY_GROUP.get(ri.group, _NONE).get(ri.resource)
    _refuse_tables(request, ri, special is not None)
    if ri.group in _REVIEW_GROUPS and ctx.registry.get(ri.group, ri.version, ri.resource) is None:
        return not_found_body()  # a version not served (v1alpha1 SelfSubjectReviews): 404, as kube
    if special is not None and ri.verb == "create" and not (special.cluster_only and ri.namespace):
        if special.reads_body:
            request = await with_body(raw, request)
        return await special.serve(raw, request, ctx, ri, authenticator)
    info = ctx.registry.get(ri.group, ri.version, ri.resource)
    if info is None or (ri.namespace and not info.namespaced):
        return not_found_body()
    if ri.group == "" and ri.resource in ("bindings", "componentstatuses"):
        if ri.resource == "bindings" or ri.subresource:  # (create is answered above)
            raise method_not_supported(ri.verb, ri.resource)
        return await componentstatus.handle_componentstatuses(request, ctx, info, ri)
    if info.namespaced and not ri.namespace and ri.verb not in ("list", "watch"):
        return not_found_body()
    if ri.verb == "watch":
        return await watch.handle_watch(request, Connection(raw), ctx, info, ri)
    if request.method in _MUTATING:
        request = await with_body(raw, request)
    elif request.body:  # (a body on a GET the lean front read: the handlers never saw one)
        request = request.with_body(b"")
    if ri.subresource:
        route = _route(info, ri.subresource) if info.subresource(ri.subresource) is not None else None
        if route is None or (route.verbs is not None and ri.verb not in route.verbs):
            return not_found_body()
        return await route.serve(raw, request, ctx, info, ri)
    if ri.is_collection:
        return await crud.handle_collection(request, ctx, info, ri)
    return await crud.handle_object(request, ctx, info, ri)
