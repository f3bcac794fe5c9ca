"""SPDY/3 framing, the server session, and portforward.k8s.io over it, against a real TCP server.

The client side is played with the same frame encoders and a client-direction header codec,
as kubectl's spdystream would send them.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from kprov.cluster.kubelet.streaming.portforward import PortForwarder
from kprov.cluster.streaming.spdy import (
    DATA,
    FLAG_FIN,
    PING,
    RST_STREAM,
    SYN_REPLY,
    SYN_STREAM,
    FrameReader,
    HeaderCodec,
    Session,
    SpdyError,
    encode_control,
    encode_data,
    header_dictionary,
)


def test_the_header_dictionary_is_spdy3s() -> None:
    data = header_dictionary()
    assert len(data) == 1423
    digest = hashlib.sha256(data).hexdigest()
    assert digest == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_header_blocks_round_trip_across_one_compression_context() -> None:
    sender, receiver = HeaderCodec(), HeaderCodec()
    for i in range(3):  # later blocks depend on the earlier ones' zlib state
        block = sender.encode({"streamType": "data", "port": "80", "requestID": str(i)})
        assert receiver.decode(block) == {"streamtype": "data", "port": "80", "requestid": str(i)}


class Client:
    """The peer: opens streams, sends data, reads what the session sends back."""

    def __init__(self) -> None:
        self.codec = HeaderCodec()
        self.reader = FrameReader(HeaderCodec())
        self.sent: asyncio.Queue[bytes] = asyncio.Queue()
        self.frames: list = []

    async def receive(self, data: bytes) -> None:
        await self.sent.put(data)

    def syn(self, stream_id: int, headers: dict[str, str], flags: int = 0) -> bytes:
        payload = struct.pack(">IIH", stream_id, 0, 0) + self.codec.encode(headers)
        return encode_control(SYN_STREAM, flags, payload)

    async def next_frame(self, timeout: float = 2.0):  # type: ignore[no-untyped-def]
        while not self.frames:
            self.frames += self.reader.feed(await asyncio.wait_for(self.sent.get(), timeout))
        return self.frames.pop(0)


async def test_a_session_replies_to_each_stream_and_delivers_data_split_anywhere() -> None:
    client, opened = Client(), []
    session = Session(client.receive, opened.append)
    wire = client.syn(1, {"streamType": "error"}) + client.syn(3, {"streamType": "data"})
    wire += encode_data(3, 0, b"hello ") + encode_data(3, FLAG_FIN, b"world")
    for i in range(0, len(wire), 5):  # a byte stream cut at arbitrary places
        await session.feed(wire[i: i + 5])
    replies = [await client.next_frame(), await client.next_frame()]
    assert [(f.kind, f.stream_id) for f in replies] == [(SYN_REPLY, 1), (SYN_REPLY, 3)]
    assert [s.headers["streamtype"] for s in opened] == ["error", "data"]
    data = opened[1]
    assert await data.read() + await data.read() == b"hello world"
    assert await data.read() == b""  # FIN
    await data.write(b"x" * 70_000)
    await data.close()
    chunks = [await client.next_frame() for _ in range(4)]
    assert all(f.kind == DATA and f.stream_id == 3 for f in chunks)
    assert b"".join(f.data for f in chunks) == b"x" * 70_000 and chunks[-1].flags & FLAG_FIN


async def test_pings_are_answered_and_resets_end_a_stream() -> None:
    client, opened = Client(), []
    session = Session(client.receive, opened.append)
    await session.feed(client.syn(1, {"streamType": "data"}))
    await client.next_frame()
    await session.feed(encode_control(PING, 0, struct.pack(">I", 7)))
    pong = await client.next_frame()
    assert (pong.kind, pong.status) == (PING, 7)
    await session.feed(encode_control(RST_STREAM, 0, struct.pack(">II", 1, 5)))
    assert await opened[0].read() == b""


async def test_a_bad_version_or_a_reopened_stream_is_a_protocol_error() -> None:
    client = Client()
    session = Session(client.receive, lambda _s: None)
    await session.feed(client.syn(1, {}))
    with pytest.raises(SpdyError):
        await session.feed(client.syn(1, {}))
    with pytest.raises(SpdyError):
        await Session(client.receive, lambda _s: None).feed(struct.pack(">HHI", 0x8002, SYN_STREAM, 0))


@pytest.fixture
async def echo_server():  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client half-closes
        writer.write(b"echo:" + data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_a_pair_of_streams_is_forwarded_to_the_pods_port(echo_server: int) -> None:
    client = Client()
    forwarder = PortForwarder("web", "uid-1", "127.0.0.1")
    session = Session(client.receive, forwarder.on_stream)
    headers = {"port": str(echo_server), "requestID": "0"}
    await session.feed(client.syn(1, {**headers, "streamType": "error"}, FLAG_FIN))
    await session.feed(client.syn(3, {**headers, "streamType": "data"}))
    await session.feed(encode_data(3, FLAG_FIN, b"ping"))
    got, fin = b"", False
    while not fin:
        frame = await client.next_frame()
        if frame.kind == DATA and frame.stream_id == 3:
            got += frame.data
            fin = bool(frame.flags & FLAG_FIN)
    assert got == b"echo:ping"
    await forwarder.aclose()


async def test_a_refused_port_is_reported_on_the_error_stream_in_the_kubelets_words() -> None:
    client = Client()
    forwarder = PortForwarder("web", "uid-1", "127.0.0.1")
    session = Session(client.receive, forwarder.on_stream)
    headers = {"port": "1", "requestID": "4"}  # nothing listens on port 1
    await session.feed(client.syn(1, {**headers, "streamType": "error"}, FLAG_FIN))
    await session.feed(client.syn(3, {**headers, "streamType": "data"}))
    message = b""
    while True:
        frame = await client.next_frame()
        if frame.kind == DATA and frame.stream_id == 1:
            message += frame.data
            if frame.flags & FLAG_FIN:
                break
    assert message.startswith(b"error forwarding port 1 to pod web, uid uid-1: ")
    await forwarder.aclose()
