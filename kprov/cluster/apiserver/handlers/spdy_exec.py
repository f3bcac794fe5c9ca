"""exec over SPDY (client-go before 1.30, the 1.28 conformance suite): translated to the
kubelet's WebSocket channel protocol.

client-go's SPDY executor upgrades with ``Upgrade: SPDY/3.1`` and ``X-Stream-Protocol-Version``
(``v4.channel.k8s.io`` first), then opens one SPDY stream per channel, named by its
``streamType`` header: ``error`` always, ``stdin``/``stdout``/``stderr`` as the request's
flags ask (no ``stderr`` with a TTY) and ``resize`` with a TTY. It waits for the error
stream to end (v4: a metav1.Status as JSON, Success or NonZeroExitCode) and for stdout and
stderr to reach their end.

Here the API server is the SPDY server and a WebSocket client of the kubelet
(``v5.channel.k8s.io``): once every expected stream is open, stdin bytes become channel-0
messages (its FIN the v5 close message), resize JSON becomes channel 4, and the kubelet's
channel 1/2/3 messages are written to stdout/stderr/error; when the kubelet closes, all
streams are finished. Upstream's 1.30+ API server translates the other way round
(WebSocket clients to a SPDY kubelet); the shape of the bridge is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from kprov.cluster.apiserver.request.wire import RawStream, RawUpgrade
from kprov.cluster.streaming import channels as ch
from kprov.cluster.streaming.spdy import Session, SpdyError, SpdyStream

__all__ = ["SPDY_PROTOCOLS", "expected_streams", "pick_spdy_protocol", "spdy_exec_upgrade"]

log = logging.getLogger(__name__)
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
_STREAMS_TIMEOUT_S = 30.0
_CLIENT_CLOSE_GRACE_S = 5.0


def pick_spdy_protocol(offered: list[str]) -> str | None:
    """The stream protocol to answer with from the client's X-Stream-Protocol-Version values."""
    names = [name.strip() for value in offered for name in value.split(",") if name.strip()]
    return next((name for name in names if name in SPDY_PROTOCOLS), None)


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true")


def expected_streams(query: Any) -> frozenset[str]:
    """The streamTypes client-go opens for these exec options."""
    tty = _flag(query, "tty")
    wanted = {"error"}
    if _flag(query, "stdin"):
        wanted.add("stdin")
    if _flag(query, "stdout"):
        wanted.add("stdout")
    if _flag(query, "stderr") and not tty:
        wanted.add("stderr")
    if tty:
        wanted.add("resize")
    return frozenset(wanted)


def spdy_exec_upgrade(
    session: aiohttp.ClientSession, kubelet: aiohttp.ClientWebSocketResponse, protocol: str, query: Any
) -> RawUpgrade:
    """The 101 reply whose connection then speaks SPDY to the client, bridged to ``kubelet``."""
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol}

    async def run(client: RawStream) -> None:
        try:
            await _bridge(client, kubelet, expected_streams(query))
        finally:
            await kubelet.close()
            await session.close()

    return RawUpgrade(headers, run)


async def _bridge(
    client: RawStream, kubelet: aiohttp.ClientWebSocketResponse, expected: frozenset[str]
) -> None:
    streams: dict[str, SpdyStream] = {}
    ready = asyncio.Event()

    def on_stream(stream: SpdyStream) -> None:
        streams[stream.headers.get("streamtype", "")] = stream
        if expected <= streams.keys():
            ready.set()

    spdy = Session(client.write, on_stream)
    reader = asyncio.ensure_future(_read_client(client, spdy))
    tasks: list[asyncio.Future[Any]] = [reader]
    try:
        waiting = asyncio.ensure_future(ready.wait())
        done, _ = await asyncio.wait([waiting, reader], timeout=_STREAMS_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            waiting.cancel()
            log.info("exec over SPDY: streams %s never all opened", sorted(expected - streams.keys()))
            return
        if "stdin" in streams:
            tasks.append(asyncio.ensure_future(_stdin(streams["stdin"], kubelet)))
        if "resize" in streams:
            tasks.append(asyncio.ensure_future(_resize(streams["resize"], kubelet)))
        await _from_kubelet(kubelet, streams)
        for stream in streams.values():
            with contextlib.suppress(ConnectionResetError):
                await stream.close()
        with contextlib.suppress(TimeoutError):  # let the client read its ends and hang up first
            await asyncio.wait_for(asyncio.shield(reader), _CLIENT_CLOSE_GRACE_S)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        spdy.close_all()


async def _read_client(client: RawStream, spdy: Session) -> None:
    try:
        while chunk := await client.read():
            await spdy.feed(chunk)
    except SpdyError as err:
        log.info("exec over SPDY: %s", err)
    finally:
        spdy.close_all()


async def _send(kubelet: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
    if not kubelet.closed:
        await kubelet.send_bytes(data)


async def _stdin(stream: SpdyStream, kubelet: aiohttp.ClientWebSocketResponse) -> None:
    while chunk := await stream.read():
        await _send(kubelet, ch.encode(ch.STDIN, chunk))
    await _send(kubelet, ch.encode(ch.CLOSE, bytes([ch.STDIN])))


async def _resize(stream: SpdyStream, kubelet: aiohttp.ClientWebSocketResponse) -> None:
    pending = b""  # client-go writes one JSON object per line
    while chunk := await stream.read():
        pending += chunk
        *sizes, pending = pending.split(b"\n")
        for size in sizes:
            if size.strip():
                await _send(kubelet, ch.encode(ch.RESIZE, size))


async def _from_kubelet(kubelet: aiohttp.ClientWebSocketResponse, streams: dict[str, SpdyStream]) -> None:
    targets = {ch.STDOUT: "stdout", ch.STDERR: "stderr", ch.ERROR: "error"}
    async for message in kubelet:
        if message.type != aiohttp.WSMsgType.BINARY:
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                return
            continue
        frame = ch.decode(message.data)
        stream = streams.get(targets.get(frame.channel, ""))
        if stream is not None and frame.data:
            await stream.write(frame.data)
