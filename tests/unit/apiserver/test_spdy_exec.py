"""exec over SPDY bridged to a kubelet's WebSocket: a client playing client-go's SPDY
executor against the bridge, and a real aiohttp WebSocket server playing the kubelet."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from multidict import MultiDict

from kprov.cluster.apiserver.handlers.spdy_exec import _bridge, expected_streams, pick_spdy_protocol
from kprov.cluster.streaming import channels as ch
from kprov.cluster.streaming.spdy import (
    DATA,
    FLAG_FIN,
    SYN_STREAM,
    FrameReader,
    HeaderCodec,
    encode_control,
    encode_data,
)


def test_protocol_and_streams_as_client_go_negotiates_them() -> None:
    assert pick_spdy_protocol(["v4.channel.k8s.io", "v3.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert pick_spdy_protocol(["v3.channel.k8s.io, channel.k8s.io"]) is None
    plain = expected_streams(MultiDict(stdout="true", stderr="true"))
    assert plain == {"error", "stdout", "stderr"}
    tty = expected_streams(MultiDict(stdin="true", stdout="true", stderr="true", tty="true"))
    assert tty == {"error", "stdin", "stdout", "resize"}


class _Pipe:
    """The client's connection as the bridge sees it (RawStream's read/write)."""

    def __init__(self) -> None:
        self.inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.outbound: asyncio.Queue[bytes] = asyncio.Queue()

    async def read(self) -> bytes:
        return await self.inbound.get()

    async def write(self, data: bytes) -> None:
        await self.outbound.put(data)


async def _kubelet(request: web.Request) -> web.WebSocketResponse:
    """Upper-cases stdin to stdout, echoes resizes to stderr, ends with Success on stdin's close."""
    ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io",))
    await ws.prepare(request)
    async for message in ws:
        frame = ch.decode(message.data)
        if frame.channel == ch.STDIN:
            await ws.send_bytes(ch.encode(ch.STDOUT, frame.data.upper()))
        elif frame.channel == ch.RESIZE:
            await ws.send_bytes(ch.encode(ch.STDERR, frame.data))
        elif frame.channel == ch.CLOSE:
            await ws.send_bytes(ch.encode(ch.ERROR, ch.exit_status(0)))
            break
    await ws.close()
    return ws


@pytest.fixture
async def kubelet_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/exec", _kubelet)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/exec"
    await runner.cleanup()


async def test_stdin_stdout_resize_and_status_cross_the_bridge(kubelet_url: str) -> None:
    codec, reader, pipe = HeaderCodec(), FrameReader(HeaderCodec()), _Pipe()

    def syn(stream_id: int, kind: str) -> bytes:
        payload = struct.pack(">IIH", stream_id, 0, 0) + codec.encode({"streamType": kind})
        return encode_control(SYN_STREAM, 0, payload)

    async with aiohttp.ClientSession() as session:
        kubelet = await session.ws_connect(kubelet_url, protocols=("v5.channel.k8s.io",))
        expected = frozenset({"error", "stdin", "stdout", "stderr", "resize"})
        bridge = asyncio.create_task(_bridge(pipe, kubelet, expected))  # type: ignore[arg-type]
        await pipe.inbound.put(syn(1, "error") + syn(3, "stdin") + syn(5, "stdout") + syn(7, "stderr"))
        await pipe.inbound.put(syn(9, "resize") + encode_data(9, 0, b'{"Width":80,"Height":24}\n'))
        received: dict[int, bytes] = {}
        finished: set[int] = set()
        stdin_sent = False
        while not {1, 5, 7} <= finished:
            for frame in reader.feed(await asyncio.wait_for(pipe.outbound.get(), 5)):
                if frame.kind == DATA:
                    received[frame.stream_id] = received.get(frame.stream_id, b"") + frame.data
                    if frame.flags & FLAG_FIN:
                        finished.add(frame.stream_id)
            if received.get(7) and not stdin_sent:  # the resize went through: now stdin, then its end
                await pipe.inbound.put(encode_data(3, FLAG_FIN, b"hello"))
                stdin_sent = True
        await pipe.inbound.put(b"")  # the client hangs up
        await asyncio.wait_for(bridge, 5)
    assert received[5] == b"HELLO"
    assert json.loads(received[7]) == {"Width": 80, "Height": 24}
    assert json.loads(received[1])["status"] == "Success"
