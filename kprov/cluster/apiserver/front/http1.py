"""The API server's HTTP/1.1 front: connections parsed by httptools (llhttp), requests handed
to the API handler one at a time, replies written in one piece.

Why not aiohttp's server for this: side by side, aiohttp's low-level server spent markedly
more CPU per small POST over TLS than a bare uvloop protocol parsing with httptools (same TLS,
same client; the figures: docs/decisions/0007). Its request, payload-stream and response
objects and its per-connection task were that difference, paid on every create, get and
status update. This front keeps what the API needs of HTTP/1.1:

- keep-alive and pipelining: a connection's requests are answered in order, one at a time
  (up to ``_MAX_QUEUED`` parsed ahead, then reading pauses);
- request bodies by Content-Length or chunked, buffered whole (as aiohttp's ``read()``);
  above ``max_body`` a 413, ``Expect: 100-continue`` answered before the body;
- HEAD (the head of the reply only); ``Connection: close`` and HTTP/1.0 (closed after);
- streamed replies (watches, logs): chunked, and a slow reader pauses the writer;
- idle connections closed after ``KEEPALIVE_S``; a malformed request gets 400, an
  oversized head 431, and the connection is closed;
- an Upgrade request (exec's WebSocket) is handed, with its connection, to aiohttp's
  server, which speaks WebSocket. Nothing else reaches aiohttp's server — except that a
  ``SPDY/3.1`` upgrade (client-go before 1.30 execs that way; aiohttp only upgrades to
  WebSocket) is answered by the API handler here: if it returns a :class:`RawUpgrade`, the
  101 is written and the connection becomes a :class:`RawStream` its ``run`` reads and
  writes; any other reply is written and the connection closed.

The handler gets a :class:`~..request.wire.Request` (the parts of aiohttp's request the API uses: method,
path, query, headers, content_length, version, transport, body and ``await read()``; the
API's front decodes either kind into one value, :mod:`..request.apirequest`) and returns aiohttp
``web.Response`` objects (serialized here) or a :class:`StreamingReply`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from kprov.cluster.apiserver.front.heap import HeapTrimmer
from kprov.cluster.apiserver.request.wire import (
    HeaderLines,
    RawStream,
    RawUpgrade,
    Request,
    StreamingReply,
    reply_date,
    reply_head,
)

__all__ = ["KEEPALIVE_S", "HttpFront"]

_log = logging.getLogger(__name__)

KEEPALIVE_S = 75.0  # an idle connection is closed after this (aiohttp's default too)
_MAX_QUEUED = 8  # requests parsed ahead of the one being answered before reading pauses
_MAX_HEAD_BYTES = 64 * 1024  # request line + headers
_SWEEP_S = 10.0
_JOIN_BELOW = 256 * 1024  # a reply body up to this size goes out in one write with its head

Handler = Callable[[Any], Awaitable[Any]]
ErrorReply = Callable[[int, str], web.Response]


class _Reject:
    """A request answered with an error without reaching the handler; the connection closes."""

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


class _Connection(asyncio.Protocol):
    def __init__(self, front: HttpFront) -> None:
        self._front = front
        self._loop = front.loop
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.closed = False
        self.busy = False
        self.last_active = self._loop.time()
        self._queue: deque[Request | _Reject] = deque()
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._rejected = False  # nothing more is read: an error reply ends the connection
        self._upgrade: Request | None = None
        self._upgrade_rest = b""
        self._tunnel_refused = False  # a CONNECT without Upgrade was queued as a request
        self.streaming = False  # a streamed reply (watch, log) is being written
        self._task: asyncio.Task[None] | None = None  # the one answering (a strong reference)
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0

    # -- the transport's side -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")  # (once: a system call each time it is asked)
        self.remote = peer[0] if isinstance(peer, tuple) and peer else None
        self._front.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._front.connections.discard(self)
        task = self._task
        if self.streaming and task is not None and not task.done():
            # A stream with nothing to send would otherwise notice the client gone only at
            # its next write: an idle watch held its subscription, task and TLS connection
            # until its timeout (30-60 min). Go's server cancels the request's context.
            task.cancel()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("the client went away"))
        # No data comes after this. The parser holds this protocol's callbacks, a reference
        # cycle that kept every closed connection, with its TLS state (OpenSSL's buffers,
        # ~100 KB), until the next full collection, which the server's GC cadence makes rare:
        # a 5,000-request fuzz run ended with 175 of them, ~18 MiB, waiting.
        del self._parser

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.last_active = self._loop.time()  # a slow upload is not an idle connection
        if self._rejected:
            return
        if self._upgrade is not None:  # waiting to hand the connection over
            self._upgrade_rest += data
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self._tunnel_refused:  # a CONNECT answered as a request: parse on after it
                self._tunnel_refused = False
                self._parser = httptools.HttpRequestParser(self)
                rest = data[upgrade.args[0] :]
                if rest:
                    self.data_received(rest)
                return
            if self._upgrade is None:
                self._upgrade = self._request()
            self._upgrade_rest = data[upgrade.args[0] :]
            if not self.busy:
                self._hand_over()
        except httptools.HttpParserCallbackError:
            if not self._rejected:  # a bug in a callback below
                _log.exception("HTTP front: request parsing failed")
                self._reject(500, "Internal Server Error")
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed HTTP request: {exc}")

    # -- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._head_size += len(name) + len(value) + 4
        if self._head_size > _MAX_HEAD_BYTES:
            self._reject(431, "Request Header Fields Too Large")
            raise _Stop

    def on_headers_complete(self) -> None:
        if self._head_size > _MAX_HEAD_BYTES:
            self._reject(431, "Request Header Fields Too Large")
            raise _Stop
        expect = None
        length = 0
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length" and value.strip().isdigit():
                length = int(value)
            elif lowered == b"expect":
                expect = value.strip().lower()
        if length > self._front.max_body:
            self._reject(413, "")
            raise _Stop
        if expect is not None:
            if expect != b"100-continue":
                self._reject(417, f"unknown Expect: {expect.decode('latin-1')}")
                raise _Stop
            if not self.busy and not self._queue and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._front.max_body:
            self._reject(413, "")
            raise _Stop
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = self._request()
        if self._parser.should_upgrade():
            if request.method != "CONNECT" or "Upgrade" in request.headers:
                self._upgrade = request
                return
            # llhttp reads CONNECT as the start of a tunnel; Go's server (and so
            # kube-apiserver) routes CONNECT /path to its handler like any request and
            # reads the next request after the reply: answer it here, parse on afresh.
            self._tunnel_refused = True
        self.last_active = self._loop.time()
        if self.busy:
            self._queue.append(request)
            if len(self._queue) >= _MAX_QUEUED and not self._reading_paused and self.transport is not None:
                self.transport.pause_reading()
                self._reading_paused = True
            return
        self.busy = True
        self._task = self._loop.create_task(self._serve(request))

    def _request(self) -> Request:
        url = self._url.decode("utf-8", "surrogateescape")
        if url[:1] != "/":  # absolute form: http://host/path?query
            parts = urlsplit(url)
            url = parts.path + ("?" + parts.query if parts.query else "")
        path, _, query = url.partition("?")
        if "%" in path:
            path = unquote(path, errors="surrogateescape")
        headers = CIMultiDictProxy(
            CIMultiDict(
                [(n.decode("latin-1"), v.decode("utf-8", "surrogateescape")) for n, v in self._headers]
            )
        )
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []  # the request holds it now: an idle connection keeps no old body
        parser = self._parser
        version = (1, 1) if parser.get_http_version() == "1.1" else (1, 0)
        return Request(
            self,
            parser.get_method().decode("latin-1"),
            path,
            query,
            version,
            headers,
            body,
            parser.should_keep_alive(),
        )

    # -- answering ------------------------------------------------------------------------
    def write(self, data: bytes | bytearray) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("the client went away")
        if self._write_paused:
            self._drain_waiter = self._loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    def _reject(self, status: int, reason: str) -> None:
        """Answer ``status`` (after the requests before it) and close the connection."""
        if self._rejected:
            return
        self._rejected = True
        if self.busy:
            self._queue.append(_Reject(status, reason))
            return
        self.busy = True
        self._task = self._loop.create_task(self._serve(_Reject(status, reason)))

    async def _serve(self, request: Request | _Reject) -> None:
        front = self._front
        try:
            while True:
                if isinstance(request, _Reject):
                    reply: Any = front.error_reply(request.status, request.reason)
                    self._write_reply(reply, "GET", keep_alive=False)
                    self._close()
                    return
                try:
                    reply = await front.handler(request)
                except web.HTTPException as exc:
                    reply = exc
                except Exception:
                    _log.exception("internal error on %s %s", request.method, request.path)
                    reply = front.error_reply(500, "Internal Server Error")
                if isinstance(reply, StreamingReply):
                    await reply.write_eof()
                    self.streaming = False
                else:
                    self._write_reply(reply, request.method, request.keep_alive)
                    if front.heap is not None:
                        front.heap.note(len(request._body) + len(getattr(reply, "body", None) or b""))
                if not request.keep_alive or self.closed:
                    self._close()
                    return
                if not self._queue:
                    break
                request = self._queue.popleft()
                if (
                    self._reading_paused
                    and len(self._queue) < _MAX_QUEUED // 2
                    and self.transport is not None
                ):
                    self._reading_paused = False
                    self.transport.resume_reading()
        except Exception:  # writing failed: the connection is gone
            _log.debug("HTTP front: connection dropped while answering", exc_info=True)
            self._close()
            return
        finally:
            self.busy = False
            self.last_active = self._loop.time()
        if self._upgrade is not None:
            self._hand_over()

    def _write_reply(self, reply: Any, method: str, keep_alive: bool) -> None:
        body = reply.body if isinstance(reply, web.Response) else None
        if body is None:
            body = b""
        elif not isinstance(body, bytes | bytearray):  # a payload object: not used by the API
            body = bytes(getattr(body, "_value", b"") or b"")
        head = reply_head(
            reply.status, reply.headers.items(), len(body), keep_alive, reason=reply.reason,
            lines=self._front.header_lines,
        )
        if method == "HEAD" or not body:
            self.write(head)
        elif len(body) > _JOIN_BELOW:  # (a copy of a large list's body costs more than a write)
            self.write(head)
            self.write(body)
        else:
            self.write(head + body)

    def _resume_reading(self) -> None:
        if self._reading_paused and len(self._queue) < _MAX_QUEUED // 2 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _hand_over(self) -> None:
        """Give the connection, from the Upgrade request on, to aiohttp's server."""
        request = self._upgrade
        transport = self.transport
        if request is None or transport is None or self.closed:
            return
        if request.headers.get("Upgrade", "").lower().startswith("spdy/"):
            self._front.connections.discard(self)  # not idle while the handler runs
            self.busy = True
            self._task = self._loop.create_task(self._serve_raw_upgrade(request))
            return
        self._upgrade = None
        target = f"{request.path}?{request.query_string}" if request.query_string else request.path
        head = [f"{request.method} {target} HTTP/{request.version[0]}.{request.version[1]}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in request.headers.items())
        raw = "".join(head).encode("utf-8", "surrogateescape") + b"\r\n" + request._body + self._upgrade_rest
        self._front.connections.discard(self)
        protocol = self._front.upgrade_server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(raw)

    async def _serve_raw_upgrade(self, request: Request) -> None:
        """Answer a non-WebSocket Upgrade with the API handler; switch if it says so."""
        try:
            reply = await self._front.handler(request)
        except web.HTTPException as exc:
            reply = exc
        except Exception:
            _log.exception("internal error on upgrade %s %s", request.method, request.path)
            reply = self._front.error_reply(500, "Internal Server Error")
        transport = self.transport
        if not isinstance(reply, RawUpgrade) or transport is None or self.closed:
            if not self.closed and not isinstance(reply, RawUpgrade | StreamingReply):
                self._write_reply(reply, request.method, keep_alive=False)
            self._upgrade = None
            self._close()
            return
        head = [b"HTTP/1.1 101 Switching Protocols\r\n"]
        head.extend(f"{name}: {value}\r\n".encode("latin-1") for name, value in reply.headers.items())
        head.append(b"Date: " + reply_date() + b"\r\n\r\n")
        transport.write(b"".join(head))
        stream = RawStream(transport, self._upgrade_rest)  # type: ignore[arg-type]
        self._upgrade, self._upgrade_rest = None, b""
        transport.set_protocol(stream)
        try:
            await reply.run(stream)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        except Exception:
            _log.exception("upgraded connection for %s %s failed", request.method, request.path)
        finally:
            transport.close()


class _Stop(Exception):
    """Raised from a parser callback to stop parsing (the connection is being rejected)."""


class HttpFront:
    """The protocol factory for ``loop.create_server``: one :class:`_Connection` each."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_body: int,
        error_reply: ErrorReply,
        upgrade_server: web.Server,
        heap: HeapTrimmer | None = None,
    ) -> None:
        self.handler = handler
        self.heap = heap  # told the size of each answered request, to trim after large ones
        self.max_body = max_body
        self.error_reply = error_reply
        self.upgrade_server = upgrade_server
        self.loop = asyncio.get_running_loop()
        self.connections: set[_Connection] = set()
        self.header_lines: HeaderLines = {}  # replies' header lines, encoded once (reply_head)
        self._sweeper = self.loop.create_task(self._close_idle_ones())

    def __call__(self) -> _Connection:
        return _Connection(self)

    async def _close_idle_ones(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_S)
            self.close_idle()

    def close_idle(self) -> None:
        """Close the connections idle for longer than ``KEEPALIVE_S``."""
        limit = self.loop.time() - KEEPALIVE_S
        for connection in list(self.connections):
            if not connection.busy and connection.last_active < limit:
                connection._close()

    async def shutdown(self, timeout: float) -> None:
        """Close idle connections now and busy ones once answered (or after ``timeout``)."""
        self._sweeper.cancel()
        if self.heap is not None:
            self.heap.close()
        deadline = self.loop.time() + timeout
        while True:
            for connection in list(self.connections):
                if not connection.busy:
                    connection._close()
            if not self.connections or self.loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection._close()
        await self.upgrade_server.shutdown(max(0.0, deadline - self.loop.time()))
