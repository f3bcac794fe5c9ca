"""ApiClient(lean=True) against a real local HTTP server: lengths, chunked replies, errors,
query strings, keep-alive reuse, a connection the server closed while idle, failover."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kprov.cluster.client.errors import NotFound, ServerUnavailable
from kprov.cluster.client.kubeconfig import ClientConfig
from kprov.cluster.client.rest import ApiClient


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict]]:
    seen: dict = {"peers": set(), "requests": []}

    async def echo(request: web.Request) -> web.StreamResponse:
        seen["peers"].add(request.transport.get_extra_info("peername") if request.transport else None)
        body = await request.read()
        seen["requests"].append((request.method, request.path_qs, request.headers.get("User-Agent"), body))
        if request.path.endswith("/missing"):
            return web.json_response(
                {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "x" not found'},
                status=404,
            )
        if request.path.endswith("/chunked"):
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            resp.content_type = "application/json"
            await resp.prepare(request)
            for part in (b'{"items": [', b"1, 2", b", 3]}"):
                await resp.write(part)
            await resp.write_eof()
            return resp
        if request.path.endswith("/close"):
            return web.json_response({"closing": True}, headers={"Connection": "close"})
        return web.json_response({"method": request.method, "query": dict(request.query), "len": len(body)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, keepalive_timeout=0.3)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def client(*servers: str) -> ApiClient:
    return ApiClient(ClientConfig(servers=servers, user_agent="lean-test"), lean=True, timeout=5)


async def test_requests_replies_and_reuse(server: tuple[str, dict]) -> None:
    url, seen = server
    async with client(url) as api:
        got = await api.request("POST", "/api/v1/x", params={"dryRun": "All", "a": "b c"}, body={"k": "v"})
        assert got == {"method": "POST", "query": {"dryRun": "All", "a": "b c"}, "len": 9}
        assert await api.request("GET", "/api/v1/chunked") == {"items": [1, 2, 3]}
        with pytest.raises(NotFound, match="not found"):
            await api.request("GET", "/api/v1/missing")
        for _ in range(5):
            await api.request("GET", "/api/v1/y")
        assert len(seen["peers"]) == 1  # one keep-alive connection for sequential requests
        assert seen["requests"][0][2] == "lean-test"
        assert (await api.request("GET", "/api/v1/close")) == {"closing": True}
        assert (await api.request("GET", "/api/v1/y"))["method"] == "GET"  # a new connection
        assert len(seen["peers"]) == 2


async def test_connection_closed_while_idle_is_replaced(server: tuple[str, dict]) -> None:
    url, seen = server
    async with client(url) as api:
        await api.request("GET", "/api/v1/a")
        await asyncio.sleep(0.6)  # past the server's keep-alive timeout: it closes the connection
        assert (await api.request("PUT", "/api/v1/b", body={}))["method"] == "PUT"
        assert [r[0] for r in seen["requests"]] == ["GET", "PUT"]  # each request reached it once


async def test_concurrent_requests_and_failover(server: tuple[str, dict]) -> None:
    url, _ = server
    async with client("http://127.0.0.1:9", url) as api:  # nothing listens on port 9
        results = await asyncio.gather(*(api.request("GET", f"/api/v1/p{i}") for i in range(20)))
        assert all(r["method"] == "GET" for r in results)
        assert api.server == url
    async with client("http://127.0.0.1:9") as api:
        with pytest.raises(ServerUnavailable):
            await api.request("GET", "/api/v1/a")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n",
            (201, 42, False, True),
        ),
        (b"HTTP/1.1 200 OK\r\ncontent-length:7\r\nCONNECTION: Close\r\n\r\n", (200, 7, False, False)),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            (200, None, True, True),
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", (200, 1, False, False)),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", (200, 1, False, True)),
        (b"HTTP/1.1 204 No Content\r\nX-Content-Length: 9\r\n\r\n", (204, None, False, True)),
    ],
)
def test_reply_heads_are_read_whatever_the_header_case(head: bytes, expected: tuple) -> None:
    from kprov.cluster.client.lean_http import _parse_head

    assert _parse_head(head) == expected


def test_a_reply_that_is_not_http_is_refused() -> None:
    from kprov.cluster.client.lean_http import _parse_head

    with pytest.raises(ConnectionError):
        _parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_names_are_quoted_only_when_they_need_it() -> None:
    from kprov.cluster.client.resources import PODS

    assert PODS.path("ns", "web-1.a_b~") == "/api/v1/namespaces/ns/pods/web-1.a_b~"
    assert PODS.path("ns", "a b/c") == "/api/v1/namespaces/ns/pods/a%20b%2Fc"
