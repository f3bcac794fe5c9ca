"""The kubelet's HTTPS server on :10250: /healthz, /pods, /containerLogs, /logs, /exec, /attach, /portForward.

TLS with the node's serving certificate; clients may present a certificate signed by the
cluster CA (``--client-ca-file``). /healthz is open; every other path (upstream's kubelet
authorizes /pods, exec, attach and port-forward as ``nodes/proxy``, /stats and /metrics as
their own subresources) requires the API server's kubelet-client identity (CN
``kube-apiserver-kubelet-client``) or a member of ``system:masters``. /pods is a v1 PodList
of the pods bound to this node as its informer last saw them (:func:`pod_list`). Logs are
streamed as text/plain (chunked while following), a mirror pod's from its systemd unit's
journal (:mod:`.streaming.unit_logs`); exec and attach are websockets speaking
v5.channel.k8s.io (or v4); port-forward is kubectl's SPDY tunnel or the channel protocols
(:mod:`.streaming.portforward_ws`); attach is bridged to the runtime's CRI Attach
(:mod:`.streaming.attachsession`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from kprov.cluster.kubelet.context import Runtime
from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.streaming.attachsession import AttachRequest, run_attach
from kprov.cluster.kubelet.streaming.execsession import ExecRequest, run_exec
from kprov.cluster.kubelet.streaming.logs import (
    ByteLimit,
    follow,
    parse_time,
    read_records,
    render,
    since,
    tail_lines,
)
from kprov.cluster.kubelet.streaming.netns_dial import dial_in_netns
from kprov.cluster.kubelet.streaming.node_logs import listing, resolve
from kprov.cluster.kubelet.streaming.portforward import TUNNEL_PROTOCOL, Dial, PortForwarder
from kprov.cluster.kubelet.streaming.portforward_ws import ChannelForward
from kprov.cluster.kubelet.streaming.unit_logs import journal_args, parse_entry
from kprov.cluster.streaming import channels as ch
from kprov.cluster.streaming import portforward_channels as pf
from kprov.cluster.streaming.spdy import Session, SpdyError

__all__ = ["ALLOWED_CN", "ALLOWED_GROUP", "KubeletServer", "is_authorized", "pod_list", "server_ssl_context"]

log = logging.getLogger(__name__)
ALLOWED_CN = "kube-apiserver-kubelet-client"
ALLOWED_GROUP = "system:masters"

FindContainer = Callable[[str, str, str, bool], Awaitable[ContainerInfo | None]]
FindPod = Callable[[str, str], dict[str, Any] | None]


async def _no_netns(_uid: str) -> str | None:
    return None


async def _dial(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file or None)  # no key file: the key follows the chain
    if client_ca_file:
        ctx.load_verify_locations(client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def is_authorized(peercert: dict[str, Any] | None) -> bool:
    """True for the API server's kubelet client or any system:masters certificate."""
    if not peercert:
        return False
    cns, orgs = set(), set()
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cns.add(value)
            elif key == "organizationName":
                orgs.add(value)
    return ALLOWED_CN in cns or ALLOWED_GROUP in orgs


def pod_list(pods: list[dict[str, Any]]) -> dict[str, Any]:
    """A v1 PodList as upstream's kubelet encodes its pods: items without kind/apiVersion."""
    items = [{k: v for k, v in pod.items() if k not in ("kind", "apiVersion")} for pod in pods]
    items.sort(key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"].get("name", "")))
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


def _positive_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not an integer") from None
    if value <= 0:
        raise ValueError(f"{name}: must be greater than 0")
    return value


def _log_start(request: web.Request) -> dt.datetime | None:
    """The earliest record time ``sinceSeconds`` or ``sinceTime`` asks for (None: all)."""
    seconds = _positive_int(request, "sinceSeconds")
    if seconds is not None:
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    raw = request.query.get("sinceTime")
    if raw:
        stamp = parse_time(raw)
        if stamp is None:
            raise ValueError(f"sinceTime: {raw!r} is not an RFC 3339 time")
        return stamp
    return None


MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes: the request line and each header


@dataclass
class KubeletServer:
    runtime: Runtime
    find_container: FindContainer
    ctr_path: str
    containerd_address: str
    healthy: Callable[[], bool] = lambda: True
    find_pod: FindPod = lambda _namespace, _name: None
    list_pods: Callable[[], list[dict[str, Any]]] = lambda: []  # the pods bound to this node
    metrics_text: Callable[[], bytes] | None = None  # Prometheus exposition (kubelet.metrics)
    stats_summary: Callable[[], dict[str, Any]] | None = None  # /stats/summary (kubelet.stats)
    # (namespace, pod, container) -> the systemd unit a mirror pod stands for, else None
    host_service_unit: Callable[[str, str, str], str | None] = lambda _ns, _pod, _container: None
    pod_netns: Callable[[str], Awaitable[str | None]] = _no_netns  # pod uid -> its network namespace
    node_log_dir: Path = Path("/var/log")  # /logs/ (upstream's kubelet serves the same)

    def runner(self) -> web.AppRunner:
        """The app with upstream's request limits: Go's server reads a request line and
        headers of up to 1 MiB, aiohttp's 8 KiB by default (``kubectl exec`` of a 20,000
        character command, an e2e spec, was a 400)."""
        return web.AppRunner(self.app(), access_log=None, max_line_size=MAX_HEADER_BYTES,
                             max_field_size=MAX_HEADER_BYTES)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/stats/summary", self.summary)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.container_logs)
        app.router.add_get("/logs/{tail:.*}", self.node_logs)
        app.router.add_get("/logs", self.node_logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{ns}/{pod}/{container}", self.exec)
            app.router.add_route(method, "/attach/{ns}/{pod}/{container}", self.attach)
            app.router.add_route(method, "/portForward/{ns}/{pod}", self.port_forward)
        return app

    async def node_logs(self, request: web.Request) -> web.StreamResponse:
        """/logs/<path>: the node's /var/log (a listing or a file), for the same identities."""
        denied = self._check(request)
        if denied:
            return denied
        tail = request.match_info.get("tail", "")
        if request.path == "/logs":
            raise web.HTTPMovedPermanently("/logs/")
        found = resolve(self.node_log_dir, tail)
        if found is None:
            return web.Response(status=404, text="404 page not found\n")
        if found.is_dir():
            if tail and not tail.endswith("/"):
                raise web.HTTPMovedPermanently(request.path + "/")
            return web.Response(text=listing(found), content_type="text/html")
        return web.FileResponse(found)

    async def healthz(self, request: web.Request) -> web.Response:
        healthy = self.healthy()
        return web.Response(text="ok" if healthy else "unhealthy", status=200 if healthy else 500)

    async def pods(self, request: web.Request) -> web.Response:
        """GET /pods: this node's pods as a v1 PodList, for the same identities as logs and exec."""
        denied = self._check(request)
        if denied:
            return denied
        return web.json_response(pod_list(self.list_pods()))

    async def metrics(self, request: web.Request) -> web.Response:
        """/metrics for the same identities as logs and exec (the API server's kubelet
        client, system:masters): a scraper needs one of those certificates."""
        denied = self._check(request)
        if denied:
            return denied
        if self.metrics_text is None:
            return _status(404, "NotFound", "metrics are not served")
        return web.Response(
            body=self.metrics_text(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )

    async def summary(self, request: web.Request) -> web.Response:
        """/stats/summary (stats/v1alpha1 Summary: node, pods, containers) for the same identities."""
        denied = self._check(request)
        if denied:
            return denied
        if self.stats_summary is None:
            return _status(404, "NotFound", "stats are not served")
        return web.json_response(self.stats_summary())

    def _check(self, request: web.Request) -> web.Response | None:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        if not is_authorized(peer):
            return _status(
                403, "Forbidden", "only the API server's kubelet client or system:masters may use this"
            )
        return None

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        denied = self._check(request)
        if denied:
            return denied
        ns, pod, name = request.match_info["ns"], request.match_info["pod"], request.match_info["container"]
        previous = _flag(request, "previous")
        unit = self.host_service_unit(ns, pod, name)
        if unit is not None:
            return await self._unit_logs(request, unit, pod, name)
        info = await self.find_container(ns, pod, name, previous)
        if info is None or not info.log_path:
            return _status(404, "NotFound", f'container "{name}" in pod "{pod}" not found')
        tail = request.query.get("tailLines")
        try:
            tail_count = int(tail) if tail not in (None, "") else None
        except ValueError:
            return _status(400, "BadRequest", f"tailLines: {tail!r} is not an integer")
        timestamps = _flag(request, "timestamps")
        try:
            start = _log_start(request)
            limit = ByteLimit(_positive_int(request, "limitBytes"))
        except ValueError as exc:
            return _status(400, "BadRequest", str(exc))
        path = Path(info.log_path)
        size = path.stat().st_size if path.exists() else 0
        records = tail_lines(since(read_records(path), start), tail_count) if path.exists() else []
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        await resp.write(limit.take(render(records, timestamps)))
        if _flag(request, "follow") and not previous and not limit.exhausted:

            async def running() -> bool:
                try:
                    return (await self.runtime.container_status(info.id)).state == CONTAINER_RUNNING
                except Exception:
                    return False

            try:
                async for rec in follow(path, size, running):
                    await resp.write(limit.take(render([rec], timestamps)))
                    if limit.exhausted:
                        break
            except (ConnectionResetError, asyncio.CancelledError):
                return resp
        await resp.write_eof()
        return resp

    async def _unit_logs(
        self, request: web.Request, unit: str, pod: str, container: str
    ) -> web.StreamResponse:
        """A mirror pod's logs: its unit's journal on this host (streaming.unit_logs)."""
        if _flag(request, "previous"):
            return _status(400, "BadRequest",
                           f'previous terminated container "{container}" in pod "{pod}" not found')
        tail = request.query.get("tailLines")
        try:
            tail_count = int(tail) if tail not in (None, "") else None
            start = _log_start(request)
            limit = ByteLimit(_positive_int(request, "limitBytes"))
        except ValueError as exc:
            return _status(400, "BadRequest", str(exc))
        follow = _flag(request, "follow")
        proc = await asyncio.create_subprocess_exec(
            *journal_args(unit, tail_count, start, follow), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert proc.stdout is not None
        timestamps = _flag(request, "timestamps")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        try:
            await resp.prepare(request)
            while not limit.exhausted:
                line = await proc.stdout.readline()
                if not line:
                    break
                record = parse_entry(line)
                if record is not None:
                    await resp.write(limit.take(render([record], timestamps)))
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        return resp

    async def exec(self, request: web.Request) -> web.StreamResponse:
        denied = self._check(request)
        if denied:
            return denied
        ns, pod, name = request.match_info["ns"], request.match_info["pod"], request.match_info["container"]
        command = request.query.getall("command", [])
        if not command:
            return _status(400, "BadRequest", "you must specify at least one command for the container")
        info = await self.find_container(ns, pod, name, False)
        if info is None or info.state != CONTAINER_RUNNING:
            return _status(404, "NotFound", f'container "{name}" in pod "{pod}" is not running')
        protocol = ch.pick_protocol(request.headers.get("Sec-WebSocket-Protocol"))
        if protocol is None:
            return _status(
                400, "BadRequest", "websocket upgrade with subprotocol v5.channel.k8s.io is required"
            )
        tty = _flag(request, "tty")
        req = ExecRequest(
            info.id,
            command,
            _flag(request, "stdin"),
            _flag(request, "stdout"),
            _flag(request, "stderr") and not tty,
            tty,
        )
        return await self._stream(
            request, protocol, f"exec in {ns}/{pod}/{name}",
            lambda incoming, send: run_exec(
                self.runtime, self.ctr_path, self.containerd_address, req, incoming, send
            ),
        )

    async def attach(self, request: web.Request) -> web.StreamResponse:
        denied = self._check(request)
        if denied:
            return denied
        ns, pod, name = request.match_info["ns"], request.match_info["pod"], request.match_info["container"]
        info = await self.find_container(ns, pod, name, False)
        if info is None or info.state != CONTAINER_RUNNING:
            return _status(404, "NotFound", f'container "{name}" in pod "{pod}" is not running')
        protocol = ch.pick_protocol(request.headers.get("Sec-WebSocket-Protocol"))
        if protocol is None:
            return _status(
                400, "BadRequest", "websocket upgrade with subprotocol v5.channel.k8s.io is required"
            )
        tty = _flag(request, "tty")
        stdin, stdout, stderr = _flag(request, "stdin"), _flag(request, "stdout"), _flag(request, "stderr")
        req = AttachRequest(info.id, stdin, stdout, stderr and not tty, tty)
        return await self._stream(
            request, protocol, f"attach to {ns}/{pod}/{name}",
            lambda incoming, send: run_attach(self.runtime, req, incoming, send),
        )

    async def _stream(
        self,
        request: web.Request,
        protocol: str,
        what: str,
        run: Callable[[AsyncIterator[bytes], Callable[[bytes], Awaitable[None]]], Awaitable[None]],
    ) -> web.StreamResponse:
        """Serve one channel-protocol websocket with ``run(incoming, send)``."""
        ws = web.WebSocketResponse(protocols=(protocol,), autoping=True, heartbeat=None)
        await ws.prepare(request)

        async def incoming() -> AsyncIterator[bytes]:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    yield msg.data
                elif msg.type == WSMsgType.TEXT:
                    yield msg.data.encode()
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return

        async def send(data: bytes) -> None:
            frame: bytes | None = data
            if protocol == ch.V1_PROTOCOL:
                frame = ch.v1_error_frame(data)
            if frame is not None and not ws.closed:
                await ws.send_bytes(frame)

        try:
            await run(incoming(), send)
        except Exception as err:  # report instead of dropping the connection silently
            log.exception("%s failed", what)
            await send(ch.encode(ch.ERROR, ch.failure_status(str(err))))
        await ws.close()
        return ws

    async def _channels(
        self, request: web.Request, protocol: str, forward: ChannelForward
    ) -> web.StreamResponse:
        """Port-forward over the channel protocol ``protocol`` ("" when none was offered)."""
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), autoping=True, heartbeat=None)
        await ws.prepare(request)

        async def incoming() -> AsyncIterator[bytes | str]:
            async for msg in ws:
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    yield msg.data
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return

        async def send(data: bytes | str) -> None:
            if ws.closed:
                return
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)

        try:
            await forward.run(incoming(), send)
        except Exception:  # logged; the client sees the WebSocket close
            log.exception("port-forward to %s failed", forward.name)
        await ws.close()
        return ws

    async def _pod_dialer(self, pod: dict[str, Any]) -> Dial:
        """How to reach a port of ``pod`` as upstream's runtime does: on its own loopback
        (inside its network namespace; the node's for a hostNetwork pod), or at its IP when
        the runtime names no namespace."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return lambda _ip, port: _dial("127.0.0.1", port)
        netns = await self.pod_netns(str(pod["metadata"].get("uid", "")))
        if netns is None:
            return _dial
        return lambda _ip, port: dial_in_netns(netns, port)

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        """Port-forward: kubectl's SPDY session carried in WebSocket binary messages, or the
        WebSocket channel protocols of other clients (:mod:`.streaming.portforward_ws`)."""
        denied = self._check(request)
        if denied:
            return denied
        ns, name = request.match_info["ns"], request.match_info["pod"]
        pod = self.find_pod(ns, name)
        pod_ip = ((pod or {}).get("status") or {}).get("podIP")
        if pod is None or not pod_ip:
            return _status(404, "NotFound", f'pod "{name}" in namespace "{ns}" is not running here')
        offer = request.headers.get("Sec-WebSocket-Protocol")
        protocol = pf.pick_protocol(offer)
        if protocol is None:
            return _status(403, "Forbidden", pf.unsupported_message(offer))
        dial = await self._pod_dialer(pod)
        if protocol != TUNNEL_PROTOCOL:
            try:
                ports = pf.parse_ports(request.query.getall("ports", []))
            except pf.PortsError as err:
                return _status(400, "BadRequest", str(err))
            forward = ChannelForward(pf.ChannelCodec(protocol), ports, name, pod["metadata"].get("uid", ""),
                                     pod_ip, dial)
            return await self._channels(request, protocol, forward)
        ws = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), autoping=True, heartbeat=None)
        await ws.prepare(request)
        forwarder = PortForwarder(name, pod["metadata"].get("uid", ""), pod_ip, dial)

        async def send(data: bytes) -> None:
            if not ws.closed:
                await ws.send_bytes(data)

        session = Session(send, forwarder.on_stream)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await session.feed(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        except SpdyError as err:
            log.warning("port-forward to %s/%s: %s", ns, name, err)
        finally:
            session.close_all()
            await forwarder.aclose()
            await ws.close()
        return ws
