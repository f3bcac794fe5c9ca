"""pods/proxy, services/proxy and nodes/proxy: an HTTP request relayed to a pod, to one ready
endpoint of a Service, or to a node's kubelet, and its answer relayed back.

The object's name in the URL may carry a scheme and a port as upstream reads it,
``[scheme:]name[:port]``:
- a pod: its IP, at the given port or else its first declared container port (else the
  scheme's default);
- a Service: the port given by number or name picks the Service port, whose name picks
  the EndpointSlices' port; one ready address is chosen at random (503 "no endpoints
  available for service" when there is none);
- a node: the kubelet at its InternalIP (``daemonEndpoints`` port unless one is given),
  over HTTPS with the API server's kubelet-client certificate.
The caller's credentials (Authorization, Impersonate-*) are not passed on; hop-by-hop
headers neither. A GET or HEAD of ``.../proxy`` itself is redirected (301) to ``.../proxy/``.
An HTML answer has its root-relative links (href, src, action) rewritten to go through the
same proxy path, as upstream's proxy transport does; a regular expression over quoted
attribute values does it (upstream parses the document: pages from pods are small, and
the links the suite and dashboards check are plain attributes). Other bodies are relayed as
they are (no decompression). A target that cannot be reached is 503 ServiceUnavailable, as
upstream's "error trying to reach service".
"""

from __future__ import annotations

import random
import re
from typing import Any

import aiohttp
from aiohttp import web

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.kubelet_proxy import kubelet_ssl
from kprov.cluster.apiserver.handlers.reads import get_object
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import ApiError, bad_request
from kprov.cluster.apiserver.request.wire import AnyReply

__all__ = ["handle_proxy", "split_scheme_name_port"]

_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_ROOT_RELATIVE_LINK = re.compile(rb"""(\s(?:href|src|action)\s*=\s*)(["'])(/(?!/)[^"']*)\2""", re.IGNORECASE)


def split_scheme_name_port(value: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` -> (scheme, name, port); BadRequest when malformed."""
    parts = value.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, (name, port) = "", parts
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        scheme, name, port = "", "", ""
    if not name or scheme not in ("", "http", "https"):
        raise bad_request(f"invalid request {value!r}")
    return scheme, name, port


def _unavailable(message: str) -> ApiError:
    return ApiError(message, 503, "ServiceUnavailable")


async def _pod_location(ctx: ApiContext, info: Any, ri: RequestInfo) -> tuple[str, Any]:
    scheme, name, port = split_scheme_name_port(ri.name)
    pod = await get_object(ctx, info, ri.namespace, name)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise bad_request(f"address not allowed: pod {name} has no IP address")
    if not port:
        declared = [p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                    for p in c.get("ports") or [] if p.get("containerPort")]
        port = str(declared[0]) if declared else ""
    return f"{scheme or 'http'}://{ip}{':' + port if port else ''}", None


async def _service_location(ctx: ApiContext, info: Any, ri: RequestInfo) -> tuple[str, Any]:
    scheme, name, port = split_scheme_name_port(ri.name)
    service = await get_object(ctx, info, ri.namespace, name)
    port_name = port
    if port.isdigit():
        matching = [p for p in (service.get("spec") or {}).get("ports") or [] if str(p.get("port")) == port]
        if not matching:
            raise _unavailable(f'no service port {port} found for service "{name}"')
        port_name = matching[0].get("name") or ""
    slices_info = ctx.registry.get("discovery.k8s.io", "v1", "endpointslices")
    candidates: list[str] = []
    if slices_info is not None:
        for piece in ctx.cache.objects(ctx.prefix(slices_info, ri.namespace)):
            if ((piece.get("metadata") or {}).get("labels") or {}).get(_SERVICE_NAME_LABEL) != name:
                continue
            for slice_port in piece.get("ports") or []:
                if (slice_port.get("name") or "") != port_name or not slice_port.get("port"):
                    continue
                for endpoint in piece.get("endpoints") or []:
                    if (endpoint.get("conditions") or {}).get("ready") is False:
                        continue
                    addresses = endpoint.get("addresses") or []
                    candidates += [f"{address}:{slice_port['port']}" for address in addresses]
    if not candidates:
        raise _unavailable(f'no endpoints available for service "{ri.name}"')
    return f"{scheme or 'http'}://{random.choice(candidates)}", None


async def _node_location(ctx: ApiContext, info: Any, ri: RequestInfo) -> tuple[str, Any]:
    scheme, name, port = split_scheme_name_port(ri.name)
    node = await get_object(ctx, info, "", name)
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    address = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
    if not address:
        raise _unavailable(f"node {name} has no InternalIP address")
    kubelet_port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    port = port or str(kubelet_port or 10250)
    return f"{scheme or 'https'}://{address}:{port}", kubelet_ssl(ctx)


_LOCATIONS = {"pods": _pod_location, "services": _service_location, "nodes": _node_location}


def _forwarded_headers(request: ApiRequest) -> dict[str, str]:
    return {k: v for k, v in request.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "authorization"
            and not k.lower().startswith("impersonate-")}


async def handle_proxy(request: ApiRequest, ctx: ApiContext, info: Any, ri: RequestInfo) -> AnyReply:
    locate = _LOCATIONS.get(info.resource)
    if locate is None or info.group != "":
        raise ApiError("the server could not find the requested resource", 404, "NotFound")
    base, ssl_context = await locate(ctx, info, ri)
    if not ri.proxy_path and request.method in ("GET", "HEAD"):
        location = request.path + "/" + ("?" + request.query_string if request.query_string else "")
        return web.Response(status=301, headers={"Location": location})
    url = base + (ri.proxy_path or "/")
    if request.query_string:
        url += "?" + request.query_string
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session, session.request(
            request.method, url, headers=_forwarded_headers(request), data=request.body or None,
            ssl=ssl_context if ssl_context is not None else False, allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            if upstream.content_type == "text/html" and "Content-Encoding" not in upstream.headers:
                prefix = request.path[: len(request.path) - len(ri.proxy_path)].encode()
                payload = _ROOT_RELATIVE_LINK.sub(lambda m: m[1] + m[2] + prefix + m[3] + m[2], payload)
            return web.Response(status=upstream.status, body=payload, headers=headers)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise _unavailable(f"error trying to reach service: {exc}") from None
