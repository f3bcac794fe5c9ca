"""What the HTTP front hands the API and what the API hands back, as plain values.

Design: the handlers and the request vocabulary (:mod:`.apirequest`) name these types; the
HTTP/1.1 protocol that parses and writes them (:mod:`kprov.cluster.apiserver.front.http1`)
sits above, so no handler imports the server that runs it.

- :class:`Request`: the parts of aiohttp's request the API uses (method, path, query,
  headers, content_length, version, transport, body, ``await read()``); ``AnyRequest`` is it
  or aiohttp's own (an upgraded WebSocket connection's);
- :class:`StreamingReply`: a reply written as it is produced (watches, logs);
- :class:`RawUpgrade` and :class:`RawStream`: a reply that switches the connection to a
  protocol the front does not parse (SPDY) after a 101, and that connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

__all__ = [
    "AnyReply",
    "AnyRequest",
    "Link",
    "RawStream",
    "RawUpgrade",
    "Request",
    "HeaderLines",
    "StreamingReply",
    "header_line",
    "reply_date",
    "reply_head",
]


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
        connection: Link,
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
        self._connection: Link | None = None
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
        head = reply_head(self.status, self.headers.items(), None, request.keep_alive, self._chunked)
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


class Link(Protocol):
    """The connection a request came on, as its reply writes to it (the front's)."""

    streaming: bool
    closed: bool

    @property
    def transport(self) -> asyncio.BaseTransport | None: ...

    @property
    def remote(self) -> str | None: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


_date_cache: list[Any] = [0, b""]  # (the second and its Date header: one format a second)


def reply_date() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, usegmt=True).encode()]
    return bytes(_date_cache[1])


HeaderLines = dict[tuple[str, str], tuple[bytes, bool]]
_HEADER_LINES_MAX = 512  # distinct (name, value) pairs a front keeps encoded
_FRONT_SETS = frozenset({"content-length", "transfer-encoding", "connection", "date"})


def header_line(name: str, value: str) -> tuple[bytes, bool]:
    """One reply header as written (b"" for those the front sets itself), and whether it is
    the Content-Type."""
    lowered = name.lower()
    if lowered in _FRONT_SETS:
        return b"", False
    if "\r" in value or "\n" in value:  # a header must not start another one
        value = value.replace("\r", " ").replace("\n", " ")
    return f"{name}: {value}\r\n".encode("utf-8", "surrogateescape"), lowered == "content-type"


def reply_head(
    status: int,
    headers: Any,
    length: int | None,
    keep_alive: bool,
    chunked: bool = False,
    reason: str = "",
    lines: HeaderLines | None = None,
) -> bytes:
    """The reply's head. ``lines``: a front's encoded header lines by (name, value), read and
    filled here (replies repeat the same few headers: Content-Type, APF's two)."""
    out = [b"HTTP/1.1 %d %b\r\n" % (status, (reason or _reason(status)).encode("latin-1"))]
    has_type = False
    for pair in headers:
        if lines is None:
            line, is_type = header_line(*pair)
        else:
            found = lines.get(pair)
            if found is None:
                if len(lines) >= _HEADER_LINES_MAX:
                    lines.clear()
                found = lines[pair] = header_line(*pair)
            line, is_type = found
        if line:
            out.append(line)
            has_type = has_type or is_type
    if not has_type and length:
        out.append(b"Content-Type: application/octet-stream\r\n")
    if length is not None:
        out.append(b"Content-Length: %d\r\n" % length)
    if chunked:
        out.append(b"Transfer-Encoding: chunked\r\n")
    out.append(b"Date: " + reply_date() + b"\r\n")
    out.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    return b"".join(out)


_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "")


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
