"""Port-forward's WebSocket channel protocols: the choice, the frames, and the forwarding of
several ports over one connection against real TCP servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from kprov.cluster.kubelet.streaming.portforward_ws import ChannelForward
from kprov.cluster.streaming import portforward_channels as pf


def test_the_protocol_follows_the_servers_preference_and_none_offered_means_binary_v4() -> None:
    assert pf.pick_protocol("v5.channel.k8s.io, v4.channel.k8s.io") == "v4.channel.k8s.io"  # Python client
    assert pf.pick_protocol("v4.base64.channel.k8s.io") == "v4.base64.channel.k8s.io"
    assert pf.pick_protocol("SPDY/3.1+portforward.k8s.io") == "SPDY/3.1+portforward.k8s.io"
    assert pf.pick_protocol("v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert pf.pick_protocol(None) == "" and pf.pick_protocol("") == ""
    assert pf.pick_protocol("channel.k8s.io, base64.channel.k8s.io") is None
    assert pf.unsupported_message("channel.k8s.io").startswith(
        "unable to upgrade websocket connection: requested protocol(s) are not supported: [channel.k8s.io]"
    )


def test_ports_are_parsed_with_upstreams_messages() -> None:
    assert pf.parse_ports(["80,8080", "9000"]) == [80, 8080, 9000]
    for values, message in (
        ([], 'query parameter "ports" is required'),
        ([""], 'query parameter "ports" cannot be empty'),
        (["x"], 'unable to parse "x" as a port: strconv.ParseUint: parsing "x": invalid syntax'),
        (["70000"],
         'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range'),
        (["0"], 'port "0" must be > 0'),
    ):
        with pytest.raises(pf.PortsError) as caught:
            pf.parse_ports(values)
        assert str(caught.value) == message


def test_two_channels_per_port_and_the_port_in_two_little_endian_bytes() -> None:
    assert [(pf.data_channel(i), pf.error_channel(i)) for i in range(3)] == [(0, 1), (2, 3), (4, 5)]
    assert pf.port_prefix(8080) == b"\x90\x1f"
    binary, text = pf.ChannelCodec(pf.V4_PROTOCOL), pf.ChannelCodec(pf.BASE64_PROTOCOL)
    assert binary.encode(2, b"hi") == b"\x02hi" and binary.decode(b"\x02hi") == (2, b"hi")
    assert text.encode(3, b"hi") == "3aGk=" and text.decode("3aGk=") == (3, b"hi")
    assert pf.ChannelCodec(pf.V5_PROTOCOL).close_frame(2) == b"\xff\x02" and not binary.closes
    with pytest.raises(ValueError):
        binary.decode(b"")


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """Echoes what it reads until the client half-closes, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.read())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def _dial(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def test_v5_forwards_each_port_and_closes_on_both_sides(echo_port: int) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        refused = probe.getsockname()[1]
    forward = ChannelForward(pf.ChannelCodec(pf.V5_PROTOCOL), [echo_port, refused], "web", "u-1", "127.0.0.1",
                             _dial)
    inbound: asyncio.Queue[bytes | str | None] = asyncio.Queue()
    sent: list[bytes | str] = []

    async def incoming() -> AsyncIterator[bytes | str]:
        while (message := await inbound.get()) is not None:
            yield message

    async def send(message: bytes | str) -> None:
        sent.append(message)

    for message in (b"\x00ping", b"\x00 pong", b"\xff\x00"):  # data, then close of channel 0
        inbound.put_nowait(message)
    await asyncio.wait_for(forward.run(incoming(), send), 10)  # ends once every port's connection did
    assert sent[:4] == [b"\x00" + pf.port_prefix(echo_port), b"\x01" + pf.port_prefix(echo_port),
                        b"\x02" + pf.port_prefix(refused), b"\x03" + pf.port_prefix(refused)]
    rest = [bytes(m) for m in sent[4:] if isinstance(m, bytes)]
    assert b"".join(m[1:] for m in rest if m[0] == 0) == b"echo:ping pong"
    assert b"\xff\x00" in rest  # the pod closed its connection
    errors = [m[1:].decode() for m in rest if m[0] == 3]
    assert errors and errors[0].startswith(f"error forwarding port {refused} to pod web, uid u-1: ")
