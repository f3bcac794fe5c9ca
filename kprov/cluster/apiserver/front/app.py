"""The HTTP front of the API server: one handler for security, errors and dispatch.

Connections are served by :mod:`.http1` (httptools; an Upgrade request, exec's WebSocket, is
handed to aiohttp's low-level server), and every request reaches :func:`_handler`'s handler,
which decodes it once into an :class:`..request.apirequest.ApiRequest` (all that authentication,
authorization and the handlers read; the streaming ones also get a narrow ``Connection``),
authenticates it (client certificate, parsed once per connection, or a ServiceAccount
Bearer token, see :mod:`..authn`; an invalid token is a 401 everywhere), rejects anonymous
requests except to the public health/version paths (401), switches to the impersonated
identity when Impersonate-* headers ask and the authorizer allows it (impersonation.py),
resolves its RequestInfo,
authorizes it (403), dispatches it - a group/version an APIService gives to another server
to :mod:`..aggregation.proxy`, resource paths to the CRUD, watch and subresource
handlers, the rest to discovery and health - and turns every ApiError / storage error into a
Status reply (and, when metrics are on, counts and times it: :mod:`.metrics`; GET /metrics
is authorized as a non-resource URL), so no handler builds error responses and no exception
leaves a partial write (each write is one etcd transaction). The dispatch is a path split
rather than aiohttp's Application, router and middleware chain, whose cost per request
over the low-level server showed in the server's CPU per pod create, side by side
(docs/decisions/0007).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from time import perf_counter, time_ns
from typing import Any

from aiohttp import web

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.aggregation import proxy as aggregator_proxy
from kprov.cluster.apiserver.aggregation.registry import aggregation_of
from kprov.cluster.apiserver.authn.chain import Authenticator, TokenInvalid
from kprov.cluster.apiserver.authn.impersonation import has_impersonation, impersonate
from kprov.cluster.apiserver.authn.oidc import serve_oidc
from kprov.cluster.apiserver.authz.chain import Authorizer, authorizer_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.flowcontrol import debug_dump
from kprov.cluster.apiserver.flowcontrol.controller import TOO_MANY, Controller, bypasses
from kprov.cluster.apiserver.front.audit import AuditLog
from kprov.cluster.apiserver.front.health import PUBLIC_PATHS, serve_health, sli_exposition
from kprov.cluster.apiserver.front.heap import HeapTrimmer, glibc_trim
from kprov.cluster.apiserver.front.http1 import HttpFront
from kprov.cluster.apiserver.front.metrics import CONTENT_TYPE, ApiMetrics
from kprov.cluster.apiserver.front.request_deadline import check_timeout
from kprov.cluster.apiserver.front.routes import not_found_body, serve_resource, with_body
from kprov.cluster.apiserver.handlers.discovery import serve_discovery
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection, decode
from kprov.cluster.apiserver.request.latency import waited_outside
from kprov.cluster.apiserver.request.negotiation import json_response, prettified, wants_pretty
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import (
    forbidden,
    internal_error,
    method_not_supported,
    status_body,
    too_large,
    unauthorized,
    unavailable,
    unclassified_error,
)
from kprov.cluster.apiserver.request.warning import audit_annotations, reset_request
from kprov.cluster.apiserver.request.wire import AnyRequest
from kprov.cluster.storage import (
    RequestTooLargeError,
    RevisionExpiredError,
    StorageTimeoutError,
    StorageUnavailableError,
)

__all__ = ["LOCAL_USER", "build_front"]

_log = logging.getLogger(__name__)
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOCAL_USER = UserInfo("system:admin", ("system:masters", "system:authenticated"))


@dataclass(frozen=True)
class Filters:
    """What the server installed around every request (None: off)."""

    metrics: ApiMetrics | None = None
    audit: AuditLog | None = None
    apf: Controller | None = None  # API Priority and Fairness


def build_front(ctx: ApiContext, filters: Filters, insecure_local: bool = False) -> HttpFront:
    """The protocol factory for one listener (``insecure_local``: the loopback debug port,
    whose requests act as system:admin)."""
    handle = _Front(ctx, filters, insecure_local).handle
    max_body = ctx.config.max_body_bytes
    loop = asyncio.get_running_loop()

    def make_request(
        message: Any, payload: Any, protocol: Any, writer: Any, task: asyncio.Task[None]
    ) -> web.BaseRequest:
        # Bodies up to max_body_bytes are read; one byte more is a 413 (read() raises).
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=max_body + 1)

    def error_reply(status: int, reason: str) -> web.Response:
        """Requests the front answers itself: malformed (400), too big (413, 431), or with an
        Expect it cannot meet (417)."""
        if status == 413:
            return json_response(status_body(too_large(max_body)), 413)
        if status >= 500:
            return json_response(status_body(internal_error(reason)), status)
        reasons = {400: "BadRequest", 417: "ExpectationFailed", 431: "RequestHeaderFieldsTooLarge"}
        return json_response(status_body(ApiError(reason, status, reasons.get(status, "BadRequest"))), status)

    upgrades = web.Server(handle, request_factory=make_request, access_log=None)
    heap = HeapTrimmer(loop, glibc_trim())
    return HttpFront(handle, max_body=max_body, error_reply=error_reply, upgrade_server=upgrades, heap=heap)


class _Front:
    """The request handler: authenticate, classify (priority and fairness), authorize,
    dispatch, and account for the request (metrics, audit) once it is answered."""

    def __init__(self, ctx: ApiContext, filters: Filters, insecure_local: bool) -> None:
        local = LOCAL_USER if insecure_local else None
        self.authenticator = Authenticator(ctx.sa_tokens, ctx.cache.get, local)
        self.ctx = ctx
        self.max_body = ctx.config.max_body_bytes
        self.metrics = filters.metrics
        self.audit = filters.audit
        self.aggregation = aggregation_of(ctx)
        self.apf = filters.apf

    async def handle(self, raw: AnyRequest) -> Any:
        request = decode(raw)  # (the one place the HTTP request is read; below, the value)
        ri = request.info
        if self.metrics is None and self.audit is None:
            request, refusal = self.identify(request)
            return await self.answer(raw, request, ri, refusal)
        method = request.method
        kind = "mutating" if method in _MUTATING else "readOnly"
        long_running = self.metrics is None or (ri is not None and ri.verb == "watch")  # not in flight
        if not long_running:
            self.metrics.inflight[kind] += 1  # type: ignore[union-attr]
        received = time_ns() if self.audit is not None else None
        outside_before = waited_outside()
        start = perf_counter()
        code, reply = 500, None
        try:
            request, refusal = self.identify(request)  # (with its user: the audit record's)
            reply = await self.answer(raw, request, ri, refusal)
            code = getattr(reply, "status", 101)  # (a RawUpgrade: switching protocols)
            return reply
        finally:
            metrics, audit = self.metrics, self.audit
            if metrics is not None:  # (_count, written out: every request passes here)
                seconds = perf_counter() - start
                if not long_running:
                    metrics.inflight[kind] -= 1
                content_type = request.headers.get("Content-Type", "") if method == "PATCH" else ""
                metrics.observe_request(
                    method, ri, "dryRun" in request.query_string, code, seconds, content_type,
                    waited_outside() - outside_before,
                )
            if audit is not None and received is not None:
                if not audit.wants_bodies:  # (the level and the line are worked out in batches)
                    audit.note(request, ri, request.user, received, code, audit_annotations())
                else:
                    level = _audit_without_bodies(audit, request, ri, received, code)
                    if level is not None:  # (a coroutine only for the levels that log bodies)
                        await _audit_with_bodies(audit, level, raw, request, ri, code, received, reply)

    def identify(self, request: ApiRequest) -> tuple[ApiRequest, Any]:
        """``request`` with who sent it (authenticated, then impersonated) and no refusal;
        or ``request`` as it came (no user) and the reply refusing it (401, 403)."""
        reset_request()  # (warnings and audit annotations: this request's own)
        try:
            user = self.authenticator.authenticate(request)
        except TokenInvalid as exc:
            _log.info("bearer token rejected on %s %s: %s", request.method, request.path, exc)
            return request, json_response(status_body(unauthorized()), 401)
        try:
            if not user.authenticated and request.path not in PUBLIC_PATHS:
                raise unauthorized()
            if has_impersonation(request.headers):
                user = impersonate(user, request.headers, authorizer_of(self.ctx).allows)
        except Exception as exc:
            return request, self.error_reply(request, exc)
        return request.with_user(user), None

    async def answer(self, raw: AnyRequest, request: ApiRequest, ri: RequestInfo | None, refusal: Any) -> Any:
        if refusal is not None:
            reply = refusal
        elif self.apf is None:
            reply = await self.serve_compact(raw, request, ri, {})
        else:
            apf_headers: dict[str, str] = {}
            reply = await self.serve_compact(raw, request, ri, apf_headers)
            if apf_headers and (
                type(reply) is web.Response or isinstance(reply, web.StreamResponse)  # (an ABC's check: slow)
            ) and not reply.prepared:
                reply.headers.update(apf_headers)
        return prettified(reply) if wants_pretty(request) else reply

    async def dispatch(
        self, raw: AnyRequest, request: ApiRequest, ri: RequestInfo | None, authorizer: Any
    ) -> Any:
        check_timeout(request.query.get("timeout"), ri)
        user = request.requester
        if ri is not None and not authorizer.allows(user, ri):
            raise forbidden(user.name, ri.verb, ri.resource, ri.group, ri.namespace, ri.name, ri.subresource)
        if request.content_length is not None and request.content_length > self.max_body:
            raise too_large(self.max_body)
        if isinstance(raw, web.BaseRequest) and request.headers.get("Expect"):
            await _expect(raw)  # (the front answers Expect itself)
        apiservice = self.aggregation.remote_for(request.path)
        if apiservice is not None:  # another server's group/version (aggregator_proxy.py)
            to = aggregator_proxy.route(self.aggregation, apiservice, request.path)
            if to is None:
                return aggregator_proxy.unavailable_reply()
            if aggregator_proxy.reads_body(request):
                request = await with_body(raw, request)
            return await aggregator_proxy.handle_proxy(request, Connection(raw), self.aggregation, to)
        if ri is not None:
            return await serve_resource(raw, request, self.ctx, ri, self.authenticator)
        if request.path == "/metrics" and self.metrics is not None:
            return _serve_metrics(request, self.metrics, authorizer)
        if request.path == "/metrics/slis":
            _authorize_url(authorizer, request.requester, "get", "/metrics/slis")
            if request.method not in ("GET", "HEAD"):
                raise method_not_supported(request.method, "/metrics/slis")
            return web.Response(body=await sli_exposition(self.ctx), headers={"Content-Type": CONTENT_TYPE})
        if request.path in debug_dump.DUMP_PATHS and self.apf is not None:
            return _serve_apf_dump(request, self.apf, authorizer)
        if request.path.rstrip("/") in ("/apis", "/openapi/v3") or (
            request.path.startswith("/apis/") and request.path.count("/") == 2
        ):  # the documents that merge other servers' groups: /apis, /apis/<g>, /openapi/v3
            await _fill_discovery(self.ctx)
        served = (
            await serve_health(request, self.ctx)
            or serve_oidc(request, self.ctx, authorizer)
            or serve_discovery(request, self.ctx)
        )
        return served or not_found_body()

    async def serve_compact(
        self, raw: AnyRequest, request: ApiRequest, ri: RequestInfo | None, apf_headers: dict[str, str]
    ) -> Any:
        """The identified ``request`` answered: through priority and fairness, or not."""
        try:
            authorizer = authorizer_of(self.ctx)
            if self.apf is None or bypasses(ri):
                return await self.dispatch(raw, request, ri, authorizer)
            return await self.apf.serve(
                request.requester,
                ri,
                request.method,
                request.path,
                apf_headers,
                lambda: self.dispatch(raw, request, ri, authorizer),
                _too_many,
            )
        except Exception as exc:
            return self.error_reply(request, exc)

    def error_reply(self, request: ApiRequest, exc: Exception) -> Any:
        """The reply to an error raised while answering (an aiohttp HTTPException is raised
        on: aiohttp answers it)."""
        if isinstance(exc, ApiError):
            body = status_body(exc)
            retry_after = (body.get("details") or {}).get("retryAfterSeconds")
            headers = {"Retry-After": str(retry_after)} if retry_after else None  # as upstream writes it
            return json_response(body, exc.code, headers)
        if isinstance(exc, web.HTTPNotFound):
            return not_found_body()
        if isinstance(exc, web.HTTPRequestEntityTooLarge):  # aiohttp's read() past client_max_size
            return json_response(status_body(too_large(self.max_body)), 413)
        if isinstance(exc, web.HTTPException):
            raise exc
        return _unexpected_error_reply(request, exc)


def _audit_without_bodies(
    audit: AuditLog, request: ApiRequest, ri: RequestInfo | None, received: int, code: int
) -> str | None:
    """Audit the request at a level that logs no bodies; the level when it needs them. Its
    user is the request's (None when authentication refused it)."""
    user = request.user
    if not audit.wants_bodies:  # (the level and the line are worked out in batches)
        audit.note(request, ri, user, received, code, audit_annotations())
        return None
    level = audit.level(user, ri.verb if ri is not None else request.method.lower(), ri, request.path)
    if level == "Metadata":
        audit.record(level, request, ri, user, received, code, annotations=audit_annotations())
        return None
    return None if level == "None" else level


def _unexpected_error_reply(request: ApiRequest, exc: Exception) -> Any:
    """Storage errors in kube-apiserver's words; anything else is a bug that answers 500 (and
    never kills the server)."""
    if isinstance(exc, RevisionExpiredError):
        return json_response(status_body(ApiError(str(exc), 410, "Expired")), 410)
    if isinstance(exc, RequestTooLargeError):  # as kube-apiserver: a 500 in etcd's words, never a retry
        return json_response(status_body(unclassified_error(str(exc))), 500)
    if isinstance(exc, StorageTimeoutError):  # cut short, outcome unknown: kube-apiserver's 504
        return json_response(status_body(ApiError(f"Timeout: {exc}", 504, "Timeout")), 504)
    if isinstance(exc, StorageUnavailableError):
        return json_response(status_body(unavailable(f"etcd is unavailable: {exc}")), 503)
    _log.error("internal error on %s %s", request.method, request.path, exc_info=exc)
    return json_response(status_body(internal_error(f"{type(exc).__name__}: {exc}")), 500)


def _too_many(retry_after: int) -> web.Response:
    """APF's refusal, as Go's http.Error writes it (plain text, nosniff)."""
    reply = web.Response(body=TOO_MANY, status=429, content_type="text/plain", charset="utf-8")
    reply.headers["Retry-After"] = str(retry_after)
    reply.headers["X-Content-Type-Options"] = "nosniff"
    return reply


async def _fill_discovery(ctx: ApiContext) -> None:
    """Before a discovery document: this server's documents of other servers' groups
    brought up to date (apiservice_controller.py)."""
    controller = ctx.apiservices
    if controller is not None:
        await controller.fill_discovery()


async def _audit_with_bodies(
    audit: AuditLog,
    level: str,
    raw: AnyRequest,
    request: ApiRequest,
    ri: RequestInfo | None,
    code: int,
    received: Any,
    reply: Any,
) -> None:
    """An event at level Request (the request body) or RequestResponse (both bodies)."""
    request_body = None
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            request_body = await raw.read()  # (aiohttp's: read now if no handler did)
        except Exception:  # an upgraded or aborted request: no body to log
            request_body = None
    response_body = getattr(reply, "body", None) if level == "RequestResponse" else None
    audit.record(
        level,
        request,
        ri,
        request.user,
        received,
        code,
        request_body,
        response_body if isinstance(response_body, bytes) else None,
        audit_annotations(),
    )


def _authorize_url(authorizer: Authorizer, user: UserInfo, verb: str, path: str) -> None:
    """A non-resource URL for system:masters and whom RBAC grants ``verb`` on it; else 403."""
    if not (authorizer.is_superuser(user) or authorizer.rbac.allows_url(user, verb, path)):
        raise ApiError(f'forbidden: User "{user.name}" cannot {verb} path "{path}"', 403, "Forbidden")


def _serve_metrics(request: ApiRequest, metrics: ApiMetrics, authorizer: Authorizer) -> Any:
    """GET /metrics for whom RBAC grants ``get`` on the non-resource URL (the bootstrap role
    system:monitoring, bound to the group of that name; system:masters holds every path)."""
    verb = "get" if request.method in ("GET", "HEAD") else request.method.lower()
    _authorize_url(authorizer, request.requester, verb, "/metrics")
    if verb != "get":
        raise method_not_supported(request.method, "/metrics")
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def _serve_apf_dump(request: ApiRequest, apf: Controller, authorizer: Authorizer) -> Any:
    """An APF debug dump (debug_dump.py), authorized as upstream's: the lower-case method on
    the path as a non-resource URL (no bootstrap role grants it; system:masters may); any
    method is answered, as upstream's mux does."""
    _authorize_url(authorizer, request.requester, request.method.lower(), request.path)
    text = debug_dump.dump(apf, request.path, bool(request.query.get("includeRequestDetails")))
    return web.Response(body=(text or "").encode(), headers={"Content-Type": "text/plain; charset=utf-8"})


async def _expect(request: web.BaseRequest) -> None:
    """``Expect: 100-continue``: tell the client to send its body (as aiohttp's router does)."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {request.headers['Expect']}")
    if request.version == (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0
