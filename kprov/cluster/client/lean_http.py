"""A lean HTTP/1.1 transport for small API requests: keep-alive connections, one request
in flight on each, the request written whole and the reply read by its length.

aiohttp's client costs a few hundred microseconds of CPU per request (request and
response objects, header multidicts, URL parsing, tracing hooks); a component sending a
request per pod (the scheduler's bindings) spends a good share of its CPU there. This
transport does only what the API server needs: a request line, fixed headers, a body;
a reply of status line, headers and a Content-Length or chunked body. No redirects,
proxies, cookies or compression (it never asks for compressed replies).

A connection that fails before any byte of the reply arrived, after having been idle in
the pool, is replaced and the request sent once more (the server closed it meanwhile; the
request never reached it). Watches stay on aiohttp: this is for request/response only.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

__all__ = ["LeanHttp"]

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(Exception):
    """A pooled connection turned out closed before the reply started."""


class LeanHttp:
    def __init__(
        self, ssl_context: ssl.SSLContext | None, headers: dict[str, str], limit: int = 128
    ) -> None:
        self._ssl = ssl_context
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: dict[str, deque[_Conn]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._open: set[_Conn] = set()

    async def _connect(self, server: str) -> _Conn:
        parts = urlsplit(server)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        conn = await asyncio.open_connection(parts.hostname, port, ssl=self._ssl if secure else None)
        self._open.add(conn)
        return conn

    def _drop(self, conn: _Conn) -> None:
        self._open.discard(conn)
        conn[1].close()

    async def request(
        self, server: str, method: str, target: str, body: bytes | None, content_type: str
    ) -> tuple[int, bytes]:
        """Send ``method target`` to ``server`` (a base URL); return (status, reply body).

        Connection errors (refused, reset, ...) are raised as OSError for the caller's
        failover; an asyncio timeout or cancellation closes the connection in use.
        """
        parts = urlsplit(server)
        head = f"{method} {parts.path.rstrip('/')}{target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{self._fixed}"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        message = head.encode() + b"\r\n" + (body or b"")
        async with self._slots:
            idle = self._idle.setdefault(server, deque())
            while idle:
                conn = idle.pop()
                if conn[1].is_closing() or conn[0].at_eof():
                    self._drop(conn)
                    continue
                try:
                    return await self._exchange(server, conn, message, method == "HEAD")
                except _Stale:
                    continue  # closed by the server while idle: try the next one
            conn = await self._connect(server)
            try:
                return await self._exchange(server, conn, message, method == "HEAD")
            except _Stale as exc:
                raise ConnectionResetError("connection closed before the reply") from exc

    async def _exchange(self, server: str, conn: _Conn, message: bytes, no_body: bool) -> tuple[int, bytes]:
        reader, writer = conn
        reusable = False  # only once the whole reply has been read
        try:
            try:
                writer.write(message)
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _Stale() from exc
                raise ConnectionResetError("reply cut short") from exc
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise _Stale() from exc
            except asyncio.LimitOverrunError as exc:
                raise ConnectionError("reply headers too long") from exc
            status, length, chunked, keep = _parse_head(head)
            if no_body or status in (204, 304) or 100 <= status < 200:
                data = b""
            elif chunked:
                data = await _read_chunked(reader)
            elif length is not None:
                data = await reader.readexactly(length)
            else:
                data = await reader.read()
                keep = False
            reusable = keep
            return status, data
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("reply cut short") from exc
        finally:
            if reusable:
                self._idle.setdefault(server, deque()).append(conn)
            else:
                self._drop(conn)

    async def close(self) -> None:
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length, chunked, keep-alive) from a reply's status line and headers."""
    status_line = head[: head.find(b"\r\n")].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise ConnectionError(f"not an HTTP/1.x reply: {status_line[0][:80]!r}")
    status = int(status_line[1])
    keep = status_line[0] == b"HTTP/1.1"
    lower = head.lower()  # header names are case-insensitive; one pass instead of one per line
    length = _header(lower, b"content-length")
    encoding = _header(lower, b"transfer-encoding")
    chunked = encoding is not None and b"chunked" in encoding
    connection = _header(lower, b"connection")
    if connection is not None:
        keep = connection != b"close" and (keep or connection == b"keep-alive")
    return status, (None if chunked or length is None else int(length)), chunked, keep


def _header(lower_head: bytes, name: bytes) -> bytes | None:
    """The (lowercased, stripped) value of header ``name`` in a lowercased head, or None."""
    start = lower_head.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    end = lower_head.find(b"\r\n", start)
    return lower_head[start : end if end >= 0 else None].strip()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
