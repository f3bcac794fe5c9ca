"""pods/log, pods/exec, pods/attach and pods/portforward, proxied to the kubelet of the pod's node.

The kubelet is reached over HTTPS at the node's InternalIP and
``status.daemonEndpoints.kubeletEndpoint.Port`` (10250 by default), authenticated with the API
server's kubelet-client certificate. Logs are streamed through chunk by chunk (as websocket
messages when the client upgrades, ``binary.k8s.io``); exec (and
attach, the same protocol without a command) is a websocket (``v5.channel.k8s.io``) whose
frames are relayed verbatim in both directions, so this proxy knows nothing about the
channel protocol. Port-forward is the same relay with the subprotocol chosen from the client's
offer (:mod:`kprov.cluster.streaming.portforward_channels`): ``SPDY/3.1+portforward.k8s.io``
(kubectl 1.30+ tunnels its SPDY session in WebSocket messages) or a channel protocol (v4,
v4.base64, v5); an offer of none of them is refused with a 403. Before any of exec, attach and
port-forward is dialled, admission webhooks see it as a CONNECT with its options object.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.reads import get_object
from kprov.cluster.apiserver.handlers.spdy_exec import SPDY_PROTOCOLS, pick_spdy_protocol, spdy_exec_upgrade
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection
from kprov.cluster.apiserver.request.requestinfo import RequestInfo, parse_bool
from kprov.cluster.apiserver.request.status import ApiError, bad_request
from kprov.cluster.apiserver.request.wire import AnyReply, RawStream, RawUpgrade
from kprov.cluster.streaming import portforward_channels as pf

__all__ = [
    "connect_options",
    "handle_attach",
    "handle_exec",
    "handle_log",
    "handle_portforward",
    "kubelet_ssl",
]

_EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
_LOG_PROTOCOLS = ("binary.k8s.io", "base64.binary.k8s.io")


def kubelet_ssl(ctx: ApiContext) -> ssl.SSLContext:
    """TLS to a kubelet: with --kubelet-certificate-authority its serving certificate must chain
    to that CA and name the address dialled (as kube-apiserver); without it, not verified."""
    authority = ctx.config.kubelet_certificate_authority
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=authority or None)
    if not authority:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if ctx.config.kubelet_client_cert:
        context.load_cert_chain(ctx.config.kubelet_client_cert, ctx.config.kubelet_client_key or None)
    return context


async def _kubelet_base(ctx: ApiContext, info: Any, ri: RequestInfo) -> tuple[str, dict[str, Any]]:
    pod = await get_object(ctx, info, ri.namespace, ri.name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise bad_request(f"pod {ri.name} does not have a host assigned")
    node_info = ctx.registry.get("", "v1", "nodes")
    assert node_info is not None
    node = await get_object(ctx, node_info, "", node_name)
    status = node.get("status") or {}
    address = next(
        (a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None
    )
    if not address:
        raise ApiError(f"node {node_name} has no InternalIP address", 500, "InternalError")
    port = (((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or 10250
    return f"https://{address}:{port}", pod


def _kubelet_error(code: int, text: str) -> ApiError:
    """The kubelet's own Status (reason, message) when it sent one, else its text."""
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return ApiError(str(status.get("message", "")), code, str(status.get("reason") or "InternalError"))
    return ApiError(
        text.strip() or f"kubelet answered {code}", code, "BadRequest" if code == 400 else "InternalError"
    )


def _container(pod: dict[str, Any], request: ApiRequest) -> str:
    wanted = request.query.get("container")
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if wanted:
        return wanted
    if len(containers) == 1:
        return str(containers[0])
    name = pod["metadata"]["name"]
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
    )


async def handle_log(
    request: ApiRequest, connection: Connection, ctx: ApiContext, info: Any, ri: RequestInfo
) -> AnyReply:
    """The container's log from its kubelet, streamed on ``connection`` as it comes (a
    chunked reply, or WebSocket messages when the client upgraded): the handler writes to
    the client itself, so it needs the connection; the query and headers come from
    ``request``."""
    base, pod = await _kubelet_base(ctx, info, ri)
    container = _container(pod, request)
    query = {
        k: request.query[k]
        for k in ("follow", "tailLines", "timestamps", "previous", "sinceSeconds", "sinceTime", "limitBytes")
        if k in request.query
    }
    url = f"{base}/containerLogs/{ri.namespace}/{ri.name}/{container}?{urlencode(query)}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            upstream = await session.get(url, ssl=kubelet_ssl(ctx))
        except aiohttp.ClientError as exc:
            raise ApiError(f'Get "{url}": {exc}', 500, "InternalError") from None
        async with upstream:
            if upstream.status != 200:
                raise _kubelet_error(upstream.status, await upstream.text())
            if request.headers.get("Upgrade", "").lower() == "websocket":
                offer = request.headers.get("Sec-WebSocket-Protocol", "")
                return await _log_websocket(connection.websocket(), offer, upstream)
            response = await connection.start_stream({"Content-Type": "text/plain"})
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await response.write_eof()
            return response


async def _log_websocket(
    websocket: web.BaseRequest, offer: str, upstream: aiohttp.ClientResponse
) -> web.StreamResponse:
    """The log as websocket messages: raw bytes in binary messages (``binary.k8s.io``, also
    when no subprotocol is asked for) or base64 text (``base64.binary.k8s.io``); the server
    closes the socket when the log ends. ``offer``: the client's Sec-WebSocket-Protocol."""
    offered = [p.strip() for p in offer.split(",") if p.strip()]
    chosen = next((p for p in offered if p in _LOG_PROTOCOLS), "")
    ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), autoping=True)
    await ws.prepare(websocket)
    with contextlib.suppress(ConnectionResetError, aiohttp.ClientError):
        async for chunk in upstream.content.iter_any():
            if ws.closed:
                break
            if chosen == "base64.binary.k8s.io":
                await ws.send_str(base64.b64encode(chunk).decode())
            else:
                await ws.send_bytes(chunk)
    await ws.close()
    return ws


async def _relay(source: Any, target: Any) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            await target.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await target.send_str(message.data)
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            break


async def handle_exec(
    request: ApiRequest, connection: Connection, ctx: ApiContext, info: Any, ri: RequestInfo
) -> AnyReply | RawUpgrade:
    """Exec in the pod's container, relayed to its kubelet. The client's WebSocket is taken
    over through ``connection`` (a SPDY upgrade needs none: it is answered with a
    RawUpgrade); the query and headers come from ``request``."""
    return await _handle_stream(request, connection, ctx, info, ri, "exec")


async def handle_attach(
    request: ApiRequest, connection: Connection, ctx: ApiContext, info: Any, ri: RequestInfo
) -> AnyReply | RawUpgrade:
    """Attach to the pod's container: as :func:`handle_exec`, without a command."""
    return await _handle_stream(request, connection, ctx, info, ri, "attach")


_OPTION_KINDS = {
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}


def connect_options(kind: str, query: Any) -> dict[str, Any]:
    """The options object of a CONNECT to ``pods/<kind>``, from its query, as admission
    webhooks are shown it (the fields the JSON form would carry)."""
    options: dict[str, Any] = {"kind": _OPTION_KINDS[kind], "apiVersion": "v1"}
    if kind == "portforward":
        ports = [int(p) for value in query.getall("ports", []) for p in str(value).split(",") if p.isdigit()]
        if ports:
            options["ports"] = ports
        return options
    for flag in ("stdin", "stdout", "stderr", "tty"):
        if parse_bool(query.get(flag)):
            options[flag] = True
    if query.get("container"):
        options["container"] = query["container"]
    if kind == "exec" and query.getall("command", []):
        options["command"] = list(query.getall("command"))
    return options


async def _admit_connect(request: ApiRequest, ctx: ApiContext, info: Any, ri: RequestInfo, kind: str) -> None:
    options = connect_options(kind, request.query)
    user = request.requester
    attrs = AdmissionAttributes(info, "CONNECT", options, None, user, kind, target=(ri.namespace, ri.name))
    await ctx.chain.run(ctx, Stage.VALIDATE, attrs)


async def _handle_stream(
    request: ApiRequest,
    connection: Connection,
    ctx: ApiContext,
    info: Any,
    ri: RequestInfo,
    kind: str,
) -> AnyReply | RawUpgrade:
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade != "websocket" and not upgrade.startswith("spdy/"):
        raise bad_request("Upgrade request required")
    spdy_protocol = ""
    if upgrade.startswith("spdy/"):
        spdy_protocol = pick_spdy_protocol(request.headers.getall("X-Stream-Protocol-Version", [])) or ""
        if not spdy_protocol:
            raise bad_request(f"{kind} over SPDY needs X-Stream-Protocol-Version {', '.join(SPDY_PROTOCOLS)}")
    base, pod = await _kubelet_base(ctx, info, ri)
    container = _container(pod, request)
    await _admit_connect(request, ctx, info, ri, kind)
    query = [(k, v) for k, v in request.query.items() if k != "container"]
    url = f"{base}/{kind}/{ri.namespace}/{ri.name}/{container}?{urlencode(query)}"
    if spdy_protocol:
        return await _spdy_to_websocket(ctx, url, spdy_protocol, request.query)
    offer = request.headers.get("Sec-WebSocket-Protocol", "")
    return await _relay_websocket(connection.websocket(), offer, ctx, url, _EXEC_PROTOCOLS)


async def _spdy_to_websocket(ctx: ApiContext, url: str, protocol: str, query: Any) -> RawUpgrade:
    """Dial the kubelet's exec WebSocket first (so its refusal is an HTTP error), then switch."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    try:
        kubelet = await session.ws_connect(url, protocols=_EXEC_PROTOCOLS, ssl=kubelet_ssl(ctx),
                                           autoping=True)
    except aiohttp.ClientError as exc:
        await session.close()
        raise ApiError(f"error dialing kubelet: {exc}", 500, "InternalError") from None
    return spdy_exec_upgrade(session, kubelet, protocol, query)


async def handle_portforward(
    request: ApiRequest, connection: Connection, ctx: ApiContext, info: Any, ri: RequestInfo
) -> web.StreamResponse | RawUpgrade:
    """Port-forward to the pod, its WebSocket (taken over through ``connection``) relayed to
    the kubelet's; the query and headers come from ``request``. A client that upgrades to
    SPDY/3.1 itself (client-go before 1.30: the e2e framework, older tools) gets its SPDY
    session relayed byte for byte to the kubelet's SPDY-over-WebSocket tunnel."""
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade != "websocket" and not upgrade.startswith("spdy/"):
        raise bad_request("Upgrade request required")
    if upgrade.startswith("spdy/") and PORTFORWARD_PROTOCOL not in request.headers.getall(
        "X-Stream-Protocol-Version", []
    ):
        raise bad_request(f"port-forward over SPDY needs X-Stream-Protocol-Version {PORTFORWARD_PROTOCOL}")
    base, pod = await _kubelet_base(ctx, info, ri)
    if not (pod.get("status") or {}).get("podIP"):
        raise bad_request(f"pod {ri.name} does not have an IP address yet")
    if upgrade.startswith("spdy/"):
        await _admit_connect(request, ctx, info, ri, "portforward")
        url = f"{base}/portForward/{ri.namespace}/{ri.name}"
        return await _spdy_tunnel(ctx, url)
    offer = request.headers.get("Sec-WebSocket-Protocol")
    protocol = pf.pick_protocol(offer)
    if protocol is None:
        raise ApiError(pf.unsupported_message(offer), 403, "Forbidden")
    await _admit_connect(request, ctx, info, ri, "portforward")
    url = f"{base}/portForward/{ri.namespace}/{ri.name}?{urlencode(list(request.query.items()))}"
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return await _relay_websocket(connection.websocket(), offered, ctx, url, (protocol,) if protocol else ())


PORTFORWARD_PROTOCOL = "portforward.k8s.io"  # SPDY's X-Stream-Protocol-Version for port-forward


async def _spdy_tunnel(ctx: ApiContext, url: str) -> RawUpgrade:
    """Dial the kubelet's SPDY-over-WebSocket port-forward tunnel first (so its refusal is an
    HTTP error), then switch the client's connection to SPDY and copy bytes both ways."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    try:
        kubelet = await session.ws_connect(url, protocols=(pf.TUNNEL_PROTOCOL,), ssl=kubelet_ssl(ctx),
                                           autoping=True)
    except aiohttp.ClientError as exc:
        await session.close()
        raise ApiError(f"error dialing kubelet: {exc}", 500, "InternalError") from None
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
               "X-Stream-Protocol-Version": PORTFORWARD_PROTOCOL}

    async def to_kubelet(client: RawStream) -> None:
        while chunk := await client.read():
            await kubelet.send_bytes(chunk)

    async def to_client(client: RawStream) -> None:
        async for message in kubelet:
            if message.type == aiohttp.WSMsgType.BINARY:
                await client.write(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                return

    async def run(client: RawStream) -> None:
        tasks = [asyncio.ensure_future(to_kubelet(client)), asyncio.ensure_future(to_client(client))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await kubelet.close()
            await session.close()
            client.close()

    return RawUpgrade(headers, run)


async def _relay_websocket(
    websocket: web.BaseRequest, offer: str, ctx: ApiContext, url: str, supported: tuple[str, ...]
) -> web.StreamResponse:
    """Open the kubelet's websocket with a subprotocol the client offered (``offer``: its
    Sec-WebSocket-Protocol), then relay frames."""
    offered = [p.strip() for p in offer.split(",") if p.strip()]
    protocols = [p for p in offered if p in supported] or list(supported)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
        try:
            upstream = await session.ws_connect(
                url, protocols=protocols, ssl=kubelet_ssl(ctx), autoping=True
            )
        except aiohttp.ClientError as exc:
            raise ApiError(f"error dialing kubelet: {exc}", 500, "InternalError") from None
        async with upstream:
            downstream = web.WebSocketResponse(
                protocols=(upstream.protocol,) if upstream.protocol else (), autoping=True
            )
            await downstream.prepare(websocket)
            tasks = [
                asyncio.create_task(_relay(downstream, upstream)),
                asyncio.create_task(_relay(upstream, downstream)),
            ]
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if tasks[1].done():  # the kubelet finished: flush and close the client side normally
                with contextlib.suppress(Exception):
                    await downstream.close()
            for task in pending:
                task.cancel()
            await upstream.close()
            with contextlib.suppress(Exception):
                await downstream.close()
            return downstream
