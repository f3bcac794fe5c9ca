"""The API server's HTTP/1.1 front on its own, on plain loopback TCP with a small handler:
what the wire tests against the whole server cannot reach easily (the hand-over of Upgrade
requests to aiohttp, idle and oversized-head connections, write backpressure, shutdown).
The whole server's HTTP behaviour is in tests/integration/apiserver/test_http_wire.py."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kprov.cluster.apiserver.front import http1
from kprov.cluster.apiserver.front.heap import HeapTrimmer
from kprov.cluster.apiserver.front.http1 import HttpFront
from kprov.cluster.apiserver.request.apirequest import Connection
from kprov.cluster.apiserver.request.wire import Request

_BIG_CHUNK = b"x" * (1 << 20)
_ENDED = asyncio.Event()


async def _echo_upper(stream: http1.RawStream) -> None:
    while chunk := await stream.read():
        await stream.write(chunk.upper())


async def _handler(request: Any) -> Any:
    if request.headers.get("Upgrade", "").lower().startswith("spdy/"):
        if request.path == "/refuse":
            return web.Response(status=403, text="no")
        return http1.RawUpgrade({"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}, _echo_upper)
    if isinstance(request, web.BaseRequest) and request.headers.get("Upgrade", "").lower() == "websocket":
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"echo {message.data} via aiohttp")
        return ws
    if request.path == "/slow":
        await asyncio.sleep(0.3)
    if request.path == "/idle-stream":  # a watch with nothing to send
        reply = await Connection(request).start_stream({"Content-Type": "text/plain"})
        try:
            await asyncio.sleep(30)
        finally:
            _ENDED.set()
        return reply
    if request.path == "/stream":
        reply = await Connection(request).start_stream({"Content-Type": "text/plain"})
        for _ in range(64):  # 64 MiB: far more than the socket buffers hold
            await reply.write(_BIG_CHUNK)
        await reply.write_eof()
        return reply
    kind = "front" if isinstance(request, Request) else "aiohttp"
    return web.Response(text=f"{request.method} {request.path} by {kind}")


def _error(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason)


@pytest.fixture
async def front() -> AsyncIterator[tuple[HttpFront, int]]:
    server_front = HttpFront(_handler, max_body=1024, error_reply=_error, upgrade_server=web.Server(_handler))
    server = await asyncio.get_running_loop().create_server(server_front, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield server_front, port
    server.close()
    await server_front.shutdown(1.0)


async def _exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def test_an_upgrade_request_is_handed_with_its_connection_to_aiohttp(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/plain") as reply:
            assert await reply.text() == "GET /plain by front"
        async with session.ws_connect(f"http://127.0.0.1:{port}/exec") as ws:
            await ws.send_str("hello")
            message = await asyncio.wait_for(ws.receive(), 3)
            assert message.data == "echo hello via aiohttp"


async def test_an_upgrade_pipelined_behind_a_slow_request_waits_for_its_answer(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    first = await asyncio.wait_for(reader.readuntil(b"by front"), 3)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert second.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    writer.close()


async def test_an_idle_connection_is_closed_after_the_keepalive_time(front, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server_front, port = front
    monkeypatch.setattr(http1, "KEEPALIVE_S", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"by front"), 3)
    await asyncio.sleep(0.3)
    server_front.close_idle()
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
    writer.close()


async def test_a_head_above_the_limit_is_431_and_closed(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    huge = b"X-Filler: " + b"y" * (70 * 1024) + b"\r\n"
    reply = await _exchange(port, b"GET /a HTTP/1.1\r\nHost: x\r\n" + huge + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 431 ")
    assert b"Connection: close" in reply


async def test_a_request_after_a_rejected_one_is_not_read(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    reply = await _exchange(
        port,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and b"GET /first by front" in reply
    assert b"HTTP/1.1 413 " in reply
    assert b"/after" not in reply  # what follows a refused body is never taken for a request


async def test_a_slow_reader_holds_the_stream_back(front) -> None:  # type: ignore[no-untyped-def]
    """Writes wait for the reader: the server never buffers the whole 64 MiB stream."""
    server_front, port = front
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    await asyncio.sleep(0.3)  # the reader does not read: the server must be waiting
    (connection,) = server_front.connections
    buffered = connection.transport.get_write_buffer_size()  # type: ignore[union-attr]
    assert buffered < 8 * len(_BIG_CHUNK)
    received = 0
    while True:
        chunk = await asyncio.wait_for(reader.read(1 << 20), 5)
        received += len(chunk)
        if chunk.endswith(b"0\r\n\r\n") or not chunk:
            break
    assert received > 64 * len(_BIG_CHUNK)
    writer.close()


async def test_shutdown_waits_for_a_request_being_answered(front) -> None:  # type: ignore[no-untyped-def]
    server_front, port = front
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    await server_front.shutdown(3.0)
    reply = await asyncio.wait_for(reader.read(), 3)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"GET /slow by front")
    writer.close()


async def test_a_spdy_upgrade_is_answered_here_and_the_connection_becomes_raw(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    upgrade = b"POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
    writer.write(upgrade + b"early bytes ")  # bytes right behind the head belong to the new protocol
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and b"Upgrade: SPDY/3.1" in head
    writer.write(b"and later ones")
    echoed = b""
    while len(echoed) < len(b"EARLY BYTES AND LATER ONES"):
        echoed += await asyncio.wait_for(reader.read(100), 3)
    assert echoed == b"EARLY BYTES AND LATER ONES"
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 3) == b""  # run() ended: the connection is closed
    writer.close()


async def test_a_spdy_upgrade_refused_by_the_handler_gets_its_reply_and_a_close(front) -> None:  # type: ignore[no-untyped-def]
    _, port = front
    head = b"GET /refuse HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
    reply = await _exchange(port, head)
    assert reply.startswith(b"HTTP/1.1 403 ") and reply.endswith(b"no") and b"Connection: close" in reply


async def test_connect_with_a_path_is_answered_by_the_front_and_the_next_request_read(front) -> None:  # type: ignore[no-untyped-def]
    # llhttp takes CONNECT for a tunnel; Go's server routes it as a request and reads on.
    # Handed to aiohttp, the connection's later requests met aiohttp's 8,190-byte line limit.
    _, port = front
    long_query = b"?x=" + b"y" * 9000
    reply = await _exchange(
        port,
        b"CONNECT /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /after" + long_query + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert b"CONNECT /api/v1/namespaces by front" in reply
    assert b"GET /after by front" in reply


async def test_a_connection_keeps_no_body_after_its_request_and_tells_the_trimmer(front) -> None:  # type: ignore[no-untyped-def]
    # A keep-alive connection held its last request's body chunks until its next request
    # (up to 3 MiB per idle connection for 75 s); large requests are reported for a trim.
    server_front, port = front
    trims: list[int] = []
    server_front.heap = HeapTrimmer(asyncio.get_running_loop(), lambda: trims.append(1), large_bytes=1000)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 1000)
    await asyncio.wait_for(reader.readuntil(b"by front"), 3)
    (connection,) = server_front.connections
    assert connection._body == []
    await asyncio.sleep(0.05)
    assert trims == [1]
    writer.close()


async def test_an_idle_stream_ends_when_its_client_goes_away(front) -> None:  # type: ignore[no-untyped-def]
    # The fuzz's dropped watches stayed subscribed until their timeout (30-60 min), each
    # holding its task, queue and TLS connection: 37 of 75 after 1,500 requests.
    _ENDED.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port=front[1])
    writer.write(b"GET /idle-stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    writer.close()
    await asyncio.wait_for(_ENDED.wait(), 3)


async def test_a_closed_connection_is_freed_without_waiting_for_the_collector(front) -> None:  # type: ignore[no-untyped-def]
    # The parser holding the connection's callbacks made a reference cycle: each closed
    # connection (with its TLS state) waited for a full collection, which the server's GC
    # cadence makes rare: a 5,000-request fuzz run ended with 175 of them, ~18 MiB.
    server_front, port = front
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"by front"), 3)
    (connection,) = server_front.connections
    gone = weakref.ref(connection)
    del connection
    gc.disable()
    try:
        writer.close()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gone() is None:
                break
        assert gone() is None, gc.get_referrers(gone())
    finally:
        gc.enable()


def test_reply_heads_from_remembered_header_lines_are_the_same_bytes() -> None:
    """A front's encoded header lines give the head reply_head writes without them: the
    headers the front sets itself left out, CR/LF made spaces, the Content-Type seen (no
    octet-stream default), in the reply's order; the memo stays bounded."""
    from multidict import CIMultiDict

    from kprov.cluster.apiserver.request.wire import reply_head

    replies = [
        CIMultiDict([("Content-Type", "application/json"), ("X-Kubernetes-PF-FlowSchema-UID", "u1"),
                     ("Content-Length", "12"), ("connection", "x"), ("Warning", 'a\r\nb')]),
        CIMultiDict([("Warning", "299 - \"x\""), ("Date", "y"), ("transfer-encoding", "chunked")]),
        CIMultiDict([("content-type", "text/plain"), ("Retry-After", "1")]),
    ]
    lines: dict[Any, Any] = {}
    for _ in range(2):  # the second time from the memo
        for headers in replies:
            for length in (0, 12, None):
                plain = reply_head(201, headers.items(), length, True)
                assert reply_head(201, headers.items(), length, True, lines=lines) == plain
    plain = reply_head(200, replies[1].items(), 5, False)
    assert b"application/octet-stream" in plain and b"\r\nDate: y" not in plain
    assert reply_head(200, replies[1].items(), 5, False, lines=lines) == plain
    many = [("X-N", str(i)) for i in range(2000)]
    reply_head(200, many, 0, True, lines=lines)
    assert 0 < len(lines) <= 512
