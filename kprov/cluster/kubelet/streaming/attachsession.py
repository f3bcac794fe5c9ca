"""``kubectl attach`` (and ``run -i``) for one websocket: bridged to the runtime's CRI Attach.

Attaching needs the container's own stdio, which only the runtime holds (containerd's CRI
plugin keeps the stdin FIFO and fans stdout/stderr out to the log file and to attachers), so
the kubelet asks CRI ``Attach`` for a streaming URL and dials it as upstream's kubelet does.
containerd's streaming server speaks the remotecommand protocol over SPDY
(``v4.channel.k8s.io``); its WebSocket flavour before v5 cannot say "stdin is finished",
which ``run -i`` with piped input needs (``stdinOnce`` closes the container's stdin then).

The bridge: POST the URL with ``Upgrade: SPDY/3.1``, open the ``error`` stream, then
``stdin``/``stdout``/``stderr`` as asked (no ``stderr`` with a TTY) and ``resize`` with a
TTY. The websocket's channel 0 goes to the stdin stream, its close message (``\\xff\\x00``)
becomes the stdin stream's FIN, channel 4 becomes one JSON line on the resize stream; the
runtime's stdout/stderr streams come back as channels 1/2 and its error stream's Status as
channel 3 (Success when it sent none). The session ends when the runtime hangs up (the
container ended) or the client does (a detach: the container keeps running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kprov.cluster.kubelet.context import Runtime
from kprov.cluster.streaming import channels as ch
from kprov.cluster.streaming.spdy import Session, SpdyError, SpdyStream

__all__ = ["AttachRequest", "open_spdy", "run_attach", "stream_types"]

log = logging.getLogger(__name__)
Send = Callable[[bytes], Awaitable[None]]
STREAM_PROTOCOL = "v4.channel.k8s.io"
_CONNECT_TIMEOUT_S = 10.0
_DRAIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AttachRequest:
    container_id: str
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def stream_types(req: AttachRequest) -> list[str]:
    """The streams to open, in client-go's order (error first)."""
    wanted = ["error"]
    if req.stdin:
        wanted.append("stdin")
    if req.stdout:
        wanted.append("stdout")
    if req.stderr and not req.tty:
        wanted.append("stderr")
    if req.tty:
        wanted.append("resize")
    return wanted


async def open_spdy(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Upgrade ``url`` (the runtime's plain-HTTP streaming URL) to SPDY; returns the
    connection and any bytes that followed the 101 reply."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SpdyError(f"unsupported streaming URL {url!r} (only plain http is served by the runtime here)")
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or 80), _CONNECT_TIMEOUT_S
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer.write(
        (
            f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: Upgrade\r\n"
            f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {STREAM_PROTOCOL}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await asyncio.wait_for(reader.read(4096), _CONNECT_TIMEOUT_S)
        if not chunk:
            break
        head += chunk
    status_line, _, rest = head.partition(b"\r\n")
    header_block, _, extra = rest.partition(b"\r\n\r\n")
    if b" 101 " not in status_line + b" ":
        writer.close()
        raise SpdyError(f"runtime refused the stream upgrade: {status_line.decode(errors='replace')}")
    return reader, writer, extra


async def _pump(stream: SpdyStream, channel: int, send: Send) -> None:
    while chunk := await stream.read():
        await send(ch.encode(channel, chunk))


async def _feed(incoming: AsyncIterator[bytes], streams: dict[str, SpdyStream]) -> None:
    stdin, resize = streams.get("stdin"), streams.get("resize")
    async for message in incoming:
        frame = ch.decode(message)
        if frame.channel == ch.STDIN and frame.data and stdin is not None:
            await stdin.write(frame.data)
        elif frame.channel == ch.CLOSE and frame.data[:1] == bytes([ch.STDIN]) and stdin is not None:
            await stdin.close()
        elif frame.channel == ch.RESIZE and resize is not None:
            size = ch.parse_resize(frame.data)
            if size and size[0] and size[1]:
                await resize.write(b'{"Width":%d,"Height":%d}\n' % size)
    if stdin is not None:  # the client went away: the container's stdin ends with it
        await stdin.close()


async def run_attach(
    runtime: Runtime, req: AttachRequest, incoming: AsyncIterator[bytes], send: Send
) -> None:
    url = await runtime.attach(req.container_id, req.stdin, req.tty, req.stdout, req.stderr and not req.tty)
    reader, writer, extra = await open_spdy(url)

    async def write(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    session = Session(write, lambda _stream: None)
    streams: dict[str, SpdyStream] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        for kind in stream_types(req):
            streams[kind] = await session.open_stream({"streamType": kind})

        async def read_runtime() -> None:
            try:
                if extra:
                    await session.feed(extra)
                while chunk := await reader.read(64 * 1024):
                    await session.feed(chunk)
            except (SpdyError, ConnectionError) as err:
                log.info("attach to %s: %s", req.container_id[:12], err)
            finally:
                session.close_all()

        error_data = bytearray()

        async def read_error() -> None:
            while chunk := await streams["error"].read():
                error_data.extend(chunk)

        pumps = [asyncio.create_task(_pump(streams[k], c, send))
                 for k, c in (("stdout", ch.STDOUT), ("stderr", ch.STDERR)) if k in streams]
        reading = asyncio.create_task(read_runtime())
        error_reader = asyncio.create_task(read_error())
        feeder = asyncio.create_task(_feed(incoming, streams))
        tasks = [reading, error_reader, feeder, *pumps]
        await asyncio.wait([reading, feeder], return_when=asyncio.FIRST_COMPLETED)
        if not reading.done():  # the client hung up: detach, the container keeps running
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(error_reader, *pumps), _DRAIN_TIMEOUT_S)
        await send(ch.encode(ch.ERROR, bytes(error_data) or ch.exit_status(0)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
