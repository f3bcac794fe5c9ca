"""The aggregator's proxy: a request for a group/version another server answers (an
APIService with a service), relayed to that server as kube-apiserver relays it.

Design: the request has been authenticated and authorized here already (app.py does both
before dispatch, with the same RequestInfo a local resource would get). It goes to one
ready endpoint of the APIService's Service (:meth:`.registry.Aggregation.resolve`) over
TLS checked with the APIService's caBundle, presenting the front-proxy client
certificate; the caller is named in the request-header identity headers ``X-Remote-User``,
``X-Remote-Group`` (one per group) and ``X-Remote-Extra-<key>`` (one per value, the key
escaped), and the caller's own credentials (Authorization, Impersonate-*) and any
identity headers it sent are dropped, so the backend trusts only what this server says.
An APIService that is not Available, or whose Service has no endpoint, is a 503 with
upstream's plain-text "service unavailable". Replies are streamed back as they come
(watches, logs); an Upgrade request (exec's SPDY or WebSocket) is relayed as raw bytes
after the backend's 101 (SPDY), or message by message (WebSocket, which aiohttp's
server speaks for this front).

The front finds the backend first (:func:`route`; none is the 503 above), reads the body
(:func:`reads_body`), then hands over the decoded request and a ``Connection``: the proxy
writes a long reply as it streams in and takes over an Upgrade's connection, so it needs
the connection itself; query and headers it reads from the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

import aiohttp
from aiohttp import web

from kprov.cluster.api.kinds.apiregistration import is_available, service_ref
from kprov.cluster.apiserver.aggregation.registry import Aggregation, Endpoint, Unresolvable
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection
from kprov.cluster.apiserver.request.wire import RawStream, RawUpgrade

__all__ = ["Route", "handle_proxy", "identity_headers", "reads_body", "route", "unavailable_reply"]

_log = logging.getLogger(__name__)
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
_HEADER_SAFE = "!#$&'*+-.^_`|~"
_CHUNK = 64 * 1024


def unavailable_reply() -> web.Response:
    """Upstream's answer when the backend cannot be used (Go's http.Error text)."""
    return web.Response(
        status=503,
        body=b"service unavailable\n",
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def identity_headers(user: UserInfo) -> list[tuple[str, str]]:
    """The request-header identity of ``user``, as upstream's auth-proxy round tripper sets it."""
    headers = [("X-Remote-User", user.name)]
    headers += [("X-Remote-Group", group) for group in user.groups]
    for key, values in user.extra:
        headers += [(f"X-Remote-Extra-{quote(key, safe=_HEADER_SAFE)}", value) for value in values]
    return headers


def _forwarded(request: ApiRequest, upgrade: bool) -> list[tuple[str, str]]:
    """The request's headers as the backend gets them: credentials and hop-by-hop ones
    dropped, the client appended to X-Forwarded-For (as Go's reverse proxy does), the
    identity headers of its user added."""
    kept = []
    forwarded_for = ""
    for name, value in request.headers.items():
        lower = name.lower()
        if lower == "authorization" or lower.startswith(("impersonate-", "x-remote-")):
            continue
        if lower in _HOP_BY_HOP and not (upgrade and lower in ("connection", "upgrade")):
            continue
        if lower == "x-forwarded-for":
            forwarded_for = value
            continue
        kept.append((name, value))
    client = request.remote or ""
    if client:
        kept.append(("X-Forwarded-For", f"{forwarded_for}, {client}" if forwarded_for else client))
    return kept + identity_headers(request.requester)


class Route(NamedTuple):
    """Where an APIService's requests go: one ready endpoint, and TLS to it."""

    endpoint: Endpoint
    context: Any  # the ssl.SSLContext checking the backend with the APIService's caBundle


def route(aggregation: Aggregation, apiservice: Mapping[str, Any], path: str) -> Route | None:
    """The backend of ``apiservice``; None when it is not Available or has no endpoint
    (answered with :func:`unavailable_reply`)."""
    ref = service_ref(apiservice)
    if ref is None or not is_available(apiservice):
        return None
    try:
        endpoint = aggregation.resolve(ref)
    except Unresolvable as exc:
        _log.info("aggregated %s: %s", path, exc.message)
        return None
    return Route(endpoint, aggregation.ssl_context(apiservice))


def reads_body(request: ApiRequest) -> bool:
    """Whether :func:`handle_proxy` sends ``request``'s body on (a WebSocket relay does not)."""
    return not request.headers.get("Upgrade") and request.method in ("POST", "PUT", "PATCH", "DELETE")


async def handle_proxy(
    request: ApiRequest, connection: Connection, aggregation: Aggregation, to: Route
) -> Any:
    """``request`` relayed to the backend ``to``, its reply streamed back on ``connection``
    (or the connection spliced to the backend's after an Upgrade)."""
    endpoint, context = to
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    if request.headers.get("Upgrade"):
        if not connection.lean:
            return await _websocket_relay(request, connection, aggregation, endpoint, target, context)
        return await _upgrade(request, endpoint, target, context)
    body = request.body if reads_body(request) else b""  # (the front read none: see reads_body)
    url = f"https://{_host(endpoint.host)}:{endpoint.port}{target}"
    try:
        upstream = await aggregation.session().request(
            request.method, url, headers=_forwarded(request, False), data=body or None,
            ssl=context, server_hostname=endpoint.server_name, allow_redirects=False,
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        _log.info("aggregated %s: %s", request.path, exc)
        return unavailable_reply()
    return await _relay(connection, upstream)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _relay(connection: Connection, upstream: aiohttp.ClientResponse) -> Any:
    headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
    length = upstream.content_length
    if length is not None and length <= 4 * 1024 * 1024:
        try:
            payload = await upstream.read()
        finally:
            upstream.release()
        return web.Response(status=upstream.status, body=payload, headers=headers)
    reply = connection.stream_reply(headers, upstream.status)
    try:
        await connection.prepare(reply)
        async for chunk in upstream.content.iter_any():
            await reply.write(chunk)
        await reply.write_eof()
    except (ConnectionResetError, aiohttp.ClientError, asyncio.CancelledError, TimeoutError):
        pass
    finally:
        upstream.close()
    return reply


async def _open(endpoint: Endpoint, context: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=context, server_hostname=endpoint.server_name
        ),
        10,
    )


async def _upgrade(request: ApiRequest, endpoint: Endpoint, target: str, context: Any) -> Any:
    """Send the Upgrade request to the backend; on its 101, splice the two connections."""
    try:
        reader, writer = await _open(endpoint, context)
    except (OSError, TimeoutError) as exc:
        _log.info("aggregated upgrade %s: %s", request.path, exc)
        return unavailable_reply()
    head = [f"{request.method} {target} HTTP/1.1", f"Host: {endpoint.server_name}"]
    head += [f"{k}: {v}" for k, v in _forwarded(request, True)]
    body = request.body
    if body:
        head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    try:
        status_line, headers, rest = await _read_head(reader)
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        writer.close()
        _log.info("aggregated upgrade %s: %s", request.path, exc)
        return unavailable_reply()
    status = int(status_line.split()[1])
    if status != 101:
        writer.close()
        return web.Response(status=status, body=rest, headers={
            k: v for k, v in headers if k.lower() not in _HOP_BY_HOP
        })
    kept = {k: v for k, v in headers if k.lower() not in ("date",)}

    async def run(stream: RawStream) -> None:
        if rest:
            await stream.write(rest)
        await _splice(stream, reader, writer)

    return RawUpgrade(kept, run)


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]], bytes]:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    rest = await reader.readexactly(length) if length and lines[0].split()[1] != "101" else b""
    return lines[0], headers, rest


async def _splice(stream: RawStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def client_to_backend() -> None:
        while data := await stream.read():
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def backend_to_client() -> None:
        while data := await reader.read(_CHUNK):
            await stream.write(data)

    tasks = [asyncio.create_task(client_to_backend()), asyncio.create_task(backend_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        writer.close()


async def _websocket_relay(
    request: ApiRequest, connection: Connection, aggregation: Aggregation, endpoint: Endpoint, target: str,
    context: Any,
) -> Any:
    """A WebSocket upgrade (it reaches aiohttp's server, which speaks WebSocket): connect to
    the backend with the subprotocols the client offers, accept the client with the one
    the backend chose, and relay messages both ways."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    skip = {f"sec-websocket-{h}" for h in ("protocol", "key", "version", "extensions")}
    headers = [(k, v) for k, v in _forwarded(request, False) if k.lower() not in skip]
    url = f"wss://{_host(endpoint.host)}:{endpoint.port}{target}"
    try:
        backend = await aggregation.session().ws_connect(
            url, protocols=offered, headers=headers, ssl=context, server_hostname=endpoint.server_name,
            autoping=False, max_msg_size=0,
        )
    except aiohttp.WSServerHandshakeError as exc:
        return web.Response(status=exc.status, text=exc.message)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        _log.info("aggregated websocket %s: %s", request.path, exc)
        return unavailable_reply()
    client = web.WebSocketResponse(protocols=[backend.protocol] if backend.protocol else (),
                                   autoping=False, max_msg_size=0)
    await client.prepare(connection.websocket())

    async def pump(source: Any, sink: Any) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.PING:
                await sink.ping(message.data)
            elif message.type == aiohttp.WSMsgType.PONG:
                await sink.pong(message.data)
            else:
                break

    tasks = [asyncio.create_task(pump(client, backend)), asyncio.create_task(pump(backend, client))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await backend.close()
        await client.close()
    return client
