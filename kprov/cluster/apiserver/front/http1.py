"""The API server's HTTP/1.1 front: connections parsed by httptools (llhttp), requests handed
to the API handler one at a time, replies written in one piece.

Why not aiohttp's server for this: side by side on the 2-core test machine, aiohttp's
low-level server spent 106-119 us of CPU per small POST over TLS, a bare uvloop protocol
parsing with httptools 65-73 us (same TLS, same client, four alternating rounds). Its
request, payload-stream and response objects and its per-connection task cost ~40 us of
every create, get and status update. This front keeps what the API needs of HTTP/1.1:

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

The handler gets a :class:`Request` (the parts of aiohttp's request the API uses: method,
path, query, headers, content_length, version, transport, body and ``await read()``; the
API's front decodes either kind into one value, :mod:`.apirequest`) and returns aiohttp
``web.Response`` objects (serialized here) or a :class:`StreamingReply`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httptools
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from kprov.cluster.apiserver.front.heap import HeapTrimmer

__all__ = [
    "KEEPALIVE_S",
    "AnyReply",
    "AnyRequest",
    "HttpFront",
    "RawStream",
    "RawUpgrade",
    "Request",
    "StreamingReply",
]

_log = logging.getLogger(__name__)

KEEPALIVE_S = 75.0  # an idle connection is closed after this (aiohttp's default too)
_MAX_QUEUED = 8  # requests parsed ahead of the one being answered before reading pauses
_MAX_HEAD_BYTES = 64 * 1024  # request line + headers
_SWEEP_S = 10.0

Handler = Callable[[Any], Awaitable[Any]]
ErrorReply = Callable[[int, str], web.Response]


class Request:
    """One request as the API handlers read it."""

    __slots__ = (
        "_body",
        "_connection",
        "_query",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query_string",
        "remote",
        "transport",
        "version",
    )

    def __init__(
        self,
        connection: _Connection,
        method: str,
        path: str,
        query_string: str,
        version: tuple[int, int],
        headers: CIMultiDictProxy[str],
        body: bytes,
        keep_alive: bool,
    ) -> None:
        self._connection = connection
        self.transport: asyncio.BaseTransport | None = connection.transport
        self.remote = connection.remote  # the client's address, as aiohttp's request.remote
        self.method = method
        self.path = path
        self.query_string = query_string
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self._body = body
        self._query: MultiDictProxy[str] | None = None

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            pairs = parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
            self._query = MultiDictProxy(MultiDict(pairs))
        return self._query

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        return int(raw) if raw is not None and raw.isdigit() else None

    @property
    def body(self) -> bytes:
        return self._body

    async def read(self) -> bytes:
        return self._body


AnyRequest = Request | web.BaseRequest


class StreamingReply:
    """A reply written as it is produced (chunked): what ``web.StreamResponse`` is to aiohttp,
    for requests of this front."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self._connection: _Connection | None = None
        self._chunked = True
        self.finished = False

    def enable_chunked_encoding(self) -> None:
        """Always chunked (HTTP/1.1); kept for the handlers' aiohttp-shaped calls."""

    async def prepare(self, request: Request) -> None:
        connection = request._connection
        self._connection = connection
        connection.streaming = True
        self._chunked = request.version >= (1, 1)
        if not self._chunked:
            request.keep_alive = False  # an HTTP/1.0 stream ends when the connection does
        head = _head(self.status, self.headers.items(), None, request.keep_alive, self._chunked)
        connection.write(head)

    async def write(self, data: bytes) -> None:
        connection = self._connection
        if connection is None:
            raise RuntimeError("the reply was not prepared")
        if connection.closed:
            raise ConnectionResetError("the client went away")
        if data:
            connection.write(b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data)
            await connection.drain()

    async def write_eof(self) -> None:
        if self.finished or self._connection is None:
            return
        self.finished = True
        if self._chunked and not self._connection.closed:
            self._connection.write(b"0\r\n\r\n")


AnyReply = web.StreamResponse | StreamingReply


_date_cache: list[Any] = [0, b""]


def _date() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, usegmt=True).encode()]
    return bytes(_date_cache[1])


def _head(
    status: int,
    headers: Any,
    length: int | None,
    keep_alive: bool,
    chunked: bool = False,
    reason: str = "",
) -> bytes:
    lines = [b"HTTP/1.1 %d %b\r\n" % (status, (reason or _reason(status)).encode("latin-1"))]
    has_type = False
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("content-length", "transfer-encoding", "connection", "date"):
            continue
        if lowered == "content-type":
            has_type = True
        if "\r" in value or "\n" in value:  # a header must not start another one
            value = value.replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}: {value}\r\n".encode("utf-8", "surrogateescape"))
    if not has_type and length:
        lines.append(b"Content-Type: application/octet-stream\r\n")
    if length is not None:
        lines.append(b"Content-Length: %d\r\n" % length)
    if chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    lines.append(b"Date: " + _date() + b"\r\n")
    lines.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    return b"".join(lines)


_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "")


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
    def write(self, data: bytes) -> None:
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
        head = _head(reply.status, reply.headers.items(), len(body), keep_alive, reason=reply.reason)
        self.write(head if method == "HEAD" or not body else head + body)

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
        head.append(b"Date: " + _date() + b"\r\n\r\n")
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


class RawStream(asyncio.Protocol):
    """A connection after a 101 to a protocol this front does not parse: bytes in, bytes out."""

    def __init__(self, transport: asyncio.Transport, already: bytes) -> None:
        self._transport = transport
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        if already:
            self._inbound.put_nowait(already)
        self._writable: asyncio.Event = asyncio.Event()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._inbound.put_nowait(data)

    def eof_received(self) -> bool:
        self._inbound.put_nowait(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._inbound.put_nowait(None)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def read(self) -> bytes:
        """The next bytes from the client; b"" once it closed (and from then on)."""
        chunk = await self._inbound.get()
        if chunk is None:
            self._inbound.put_nowait(None)
            return b""
        return chunk

    async def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ConnectionResetError("the client went away")
        self._transport.write(data)
        await self._writable.wait()

    def close(self) -> None:
        self._transport.close()


class RawUpgrade:
    """A handler's reply that switches the connection to another protocol after a 101."""

    def __init__(self, headers: dict[str, str], run: Callable[[RawStream], Awaitable[None]]) -> None:
        self.headers = headers
        self.run = run


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
