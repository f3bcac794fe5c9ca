"""The kubelet's attach bridge against a fake CRI streaming server speaking SPDY (v4)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from kprov.cluster.kubelet.streaming.attachsession import AttachRequest, run_attach, stream_types
from kprov.cluster.streaming import channels as ch
from kprov.cluster.streaming.spdy import Session, SpdyStream


class FakeStreamingServer:
    """Upgrades to SPDY, waits for the expected streams, echoes stdin to stdout upper-cased
    until stdin's FIN, records resize lines, then writes a Success status and hangs up."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.request_head = b""
        self.resizes: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/attach/tok123"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += await reader.read(1024)
        self.request_head = head
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                     b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
        streams: dict[str, SpdyStream] = {}
        ready = asyncio.Event()

        def on_stream(stream: SpdyStream) -> None:
            streams[stream.headers["streamtype"]] = stream
            if self.expected <= streams.keys():
                ready.set()

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        session = Session(send, on_stream)

        async def read_loop() -> None:
            while chunk := await reader.read(4096):
                await session.feed(chunk)
            session.close_all()

        reading = asyncio.create_task(read_loop())
        await ready.wait()

        async def resize_loop() -> None:
            while chunk := await streams["resize"].read():
                self.resizes.append(chunk)

        resizing = asyncio.create_task(resize_loop()) if "resize" in streams else None
        if "stdin" in streams:
            while chunk := await streams["stdin"].read():
                await streams["stdout"].write(chunk.upper())
        await streams["error"].write(json.dumps({"metadata": {}, "status": "Success"}).encode())
        for stream in streams.values():
            await stream.close()
        writer.close()
        reading.cancel()
        if resizing:
            resizing.cancel()


class FakeRuntime:
    def __init__(self, url: str) -> None:
        self.url = url
        self.calls: list[tuple[Any, ...]] = []

    async def attach(self, container_id: str, stdin: bool, tty: bool, stdout: bool, stderr: bool) -> str:
        self.calls.append((container_id, stdin, tty, stdout, stderr))
        return self.url


def test_stream_types_follow_client_go() -> None:
    assert stream_types(AttachRequest("c", True, True, True, False)) == ["error", "stdin", "stdout", "stderr"]
    assert stream_types(AttachRequest("c", False, True, True, True)) == ["error", "stdout", "resize"]


def test_stdin_flows_in_and_its_close_ends_the_attach() -> None:
    async def scenario() -> tuple[list[bytes], FakeStreamingServer, FakeRuntime]:
        server = FakeStreamingServer({"error", "stdin", "stdout", "stderr"})
        runtime = FakeRuntime(await server.start())
        sent: list[bytes] = []

        async def incoming() -> AsyncIterator[bytes]:
            yield ch.encode(ch.STDIN, b"hello\n")
            yield ch.encode(ch.CLOSE, bytes([ch.STDIN]))
            await asyncio.sleep(30)  # the client stays connected until the status arrives

        async def send(data: bytes) -> None:
            sent.append(data)

        await asyncio.wait_for(
            run_attach(runtime, AttachRequest("cid", True, True, True, False), incoming(), send), 10
        )
        return sent, server, runtime

    sent, server, runtime = asyncio.run(scenario())
    assert runtime.calls == [("cid", True, False, True, True)]
    assert b"POST /attach/tok123 HTTP/1.1" in server.request_head
    assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in server.request_head
    assert b"".join(m[1:] for m in sent if m[0] == ch.STDOUT) == b"HELLO\n"
    assert sent[-1][0] == ch.ERROR and json.loads(sent[-1][1:])["status"] == "Success"


def test_tty_resize_goes_to_the_resize_stream() -> None:
    async def scenario() -> FakeStreamingServer:
        server = FakeStreamingServer({"error", "stdin", "stdout", "resize"})
        runtime = FakeRuntime(await server.start())

        async def incoming() -> AsyncIterator[bytes]:
            yield ch.encode(ch.RESIZE, b'{"Width":0,"Height":0}')  # kubectl's first, under no terminal
            yield ch.encode(ch.RESIZE, b'{"Width":80,"Height":24}')
            await asyncio.sleep(0.2)
            yield ch.encode(ch.CLOSE, bytes([ch.STDIN]))
            await asyncio.sleep(30)

        async def send(data: bytes) -> None:
            return None

        await asyncio.wait_for(
            run_attach(runtime, AttachRequest("cid", True, True, False, True), incoming(), send), 10
        )
        return server

    server = asyncio.run(scenario())
    assert b"".join(server.resizes) == b'{"Width":80,"Height":24}\n'


def test_a_client_hang_up_detaches() -> None:
    async def scenario() -> list[bytes]:
        server = FakeStreamingServer({"error", "stdout", "stderr"})
        runtime = FakeRuntime(await server.start())
        sent: list[bytes] = []

        async def incoming() -> AsyncIterator[bytes]:
            return
            yield b""

        async def send(data: bytes) -> None:
            sent.append(data)

        await asyncio.wait_for(
            run_attach(runtime, AttachRequest("cid", False, True, True, False), incoming(), send), 10
        )
        return sent

    assert asyncio.run(scenario()) == []
