"""The aiohttp application: one middleware for errors and security, one route for resources.

The middleware authenticates (client certificate, parsed once per connection), rejects
anonymous requests except to the public health/version paths (401), resolves the request's
RequestInfo, authorizes it (403), and turns every ApiError / storage error into a Status
reply - so no handler builds error responses and no exception leaves a partial write (each
write is one etcd transaction).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import accessreview, crud, proxy, subresources, watch
from kprov.cluster.apiserver.authn import UserInfo, authenticate
from kprov.cluster.apiserver.authz import authorize
from kprov.cluster.apiserver.context import CONTEXT, ApiContext
from kprov.cluster.apiserver.discovery import add_discovery_routes
from kprov.cluster.apiserver.health import PUBLIC_PATHS, add_health_routes
from kprov.cluster.apiserver.negotiation import json_response
from kprov.cluster.apiserver.requestinfo import RequestInfo, parse_bool, parse_request_info
from kprov.cluster.apiserver.status import (
    forbidden,
    internal_error,
    status_body,
    too_large,
    unauthorized,
    unavailable,
)
from kprov.cluster.storage import RevisionExpiredError, StorageUnavailableError

__all__ = ["LOCAL_USER", "build_app"]

_log = logging.getLogger(__name__)
LOCAL_USER = UserInfo("system:admin", ("system:masters", "system:authenticated"))
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _not_found_body() -> web.Response:
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


def _api_middleware(ctx: ApiContext, insecure_local: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware of one app (its context and connection users captured, not looked up
    on every request)."""
    local = LOCAL_USER if insecure_local else None
    known: weakref.WeakKeyDictionary[Any, UserInfo] = weakref.WeakKeyDictionary()

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        user = authenticate(request, local, known)
        ri = parse_request_info(request.method, request.path, parse_bool(request.query.get("watch")))
        try:
            if not user.authenticated and request.path not in PUBLIC_PATHS:
                raise unauthorized()
            if ri is not None and not authorize(user, ri, ctx.cache):
                raise forbidden(
                    user.name, ri.verb, ri.resource, ri.group, ri.namespace, ri.name, ri.subresource
                )
            request["user"] = user
            request["ri"] = ri
            if request.content_length is not None and request.content_length > ctx.config.max_body_bytes:
                raise too_large(ctx.config.max_body_bytes)
            return await handler(request)
        except ApiError as exc:
            return json_response(status_body(exc), exc.code)
        except web.HTTPNotFound:
            return _not_found_body()
        except web.HTTPRequestEntityTooLarge:
            return json_response(status_body(too_large(ctx.config.max_body_bytes)), 413)
        except RevisionExpiredError as exc:
            err = ApiError(str(exc), 410, "Expired")
            return json_response(status_body(err), 410)
        except StorageUnavailableError as exc:
            err = unavailable(f"etcd is unavailable: {exc}")
            return json_response(status_body(err), 503)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug must answer 500, never kill the server
            _log.exception("internal error on %s %s", request.method, request.path)
            err = internal_error(f"{type(exc).__name__}: {exc}")
            return json_response(status_body(err), 500)

    return middleware


async def _resource(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    ri: RequestInfo | None = request["ri"]
    if ri is None:
        return _not_found_body()
    if ri.resource == "bindings" and ri.verb == "create" and ri.group == "":
        pods = ctx.registry.get("", "v1", "pods")
        assert pods is not None
        return await subresources.handle_binding(request, ctx, pods, ri, await _body(request, ctx))
    if ri.resource == "selfsubjectaccessreviews" and ri.verb == "create":
        return await accessreview.handle_self_subject_access_review(request, ctx, await _body(request, ctx))
    info = ctx.registry.get(ri.group, ri.version, ri.resource)
    if info is None or (ri.namespace and not info.namespaced):
        return _not_found_body()
    if info.namespaced and not ri.namespace and ri.verb not in ("list", "watch"):
        return _not_found_body()
    if ri.verb == "watch":
        return await watch.handle_watch(request, ctx, info, ri)
    body = await _body(request, ctx) if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
    if ri.subresource:
        return await _subresource(request, ctx, info, ri, body)
    if ri.is_collection:
        return await crud.handle_collection(request, ctx, info, ri, body)
    return await crud.handle_object(request, ctx, info, ri, body)


async def _subresource(
    request: web.Request, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo, body: bytes
) -> web.StreamResponse:
    sub = ri.subresource
    if info.subresource(sub) is None:
        return _not_found_body()
    if sub == "status":
        return await crud.handle_object(request, ctx, info, ri, body, subresource="status")
    if sub == "finalize" and ri.verb == "update":
        return await crud.handle_object(request, ctx, info, ri, body, subresource="finalize")
    if sub == "scale":
        return await subresources.handle_scale(request, ctx, info, ri, body)
    if sub == "binding" and ri.verb == "create":
        return await subresources.handle_binding(request, ctx, info, ri, body)
    if sub == "eviction" and ri.verb == "create":
        return await subresources.handle_eviction(request, ctx, info, ri, body)
    if sub == "log" and ri.verb == "get":
        return await proxy.handle_log(request, ctx, info, ri)
    if sub == "exec":
        return await proxy.handle_exec(request, ctx, info, ri)
    return _not_found_body()


async def _body(request: web.Request, ctx: ApiContext) -> bytes:
    # aiohttp stops reading past client_max_size (max_body_bytes) with
    # HTTPRequestEntityTooLarge, which the middleware answers with a 413 Status.
    return await request.read()


def build_app(ctx: ApiContext, insecure_local: bool = False) -> web.Application:
    app = web.Application(
        middlewares=[_api_middleware(ctx, insecure_local)], client_max_size=ctx.config.max_body_bytes + 1
    )
    app[CONTEXT] = ctx
    add_health_routes(app)
    add_discovery_routes(app)
    app.router.add_route("*", "/api/{tail:.+}", _resource)
    app.router.add_route("*", "/apis/{tail:.+}", _resource)
    return app
