"""The kubelet's port-forward over WebSocket channels (v4, v4.base64, v5): pod ports as channels.

One WebSocket carries every port of the ``ports`` query (channel layout and frames in
:mod:`kprov.cluster.streaming.portforward_channels`). At the start each port's data and error
channels get their 2-byte port frame and the pod's port is dialled (at its IP, from the node's
network namespace). Client data on a data channel goes to that port's connection (queued
until the dial completes); what the pod sends comes back on the data channel. A dial that
fails writes upstream's ``error forwarding port P to pod NAME, uid UID: ...`` on the error
channel. When every port's connection has ended (the pod closed it, or it never opened), the
WebSocket is closed; the client closing the WebSocket ends every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from kprov.cluster.streaming.portforward_channels import (
    CLOSE,
    ChannelCodec,
    data_channel,
    error_channel,
    port_prefix,
)

__all__ = ["ChannelForward", "Dial", "Send"]

log = logging.getLogger(__name__)

Dial = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
Send = Callable[[bytes | str], Awaitable[None]]
_EOF = b""


@dataclass
class _Port:
    index: int
    number: int
    inbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)


@dataclass
class ChannelForward:
    """Forward ``ports`` of the pod ``name`` (uid ``uid``) at ``pod_ip`` over one WebSocket."""

    codec: ChannelCodec
    ports: list[int]
    name: str
    uid: str
    pod_ip: str
    dial: Dial

    async def run(self, incoming: AsyncIterator[bytes | str], send: Send) -> None:
        ports = [_Port(i, n) for i, n in enumerate(self.ports)]
        for port in ports:
            await send(self.codec.encode(data_channel(port.index), port_prefix(port.number)))
            await send(self.codec.encode(error_channel(port.index), port_prefix(port.number)))
        workers = [asyncio.ensure_future(self._forward(port, send)) for port in ports]
        reader = asyncio.ensure_future(self._route(incoming, ports))

        async def every_port() -> None:
            await asyncio.gather(*workers, return_exceptions=True)

        done = asyncio.ensure_future(every_port())
        try:
            await asyncio.wait([done, reader], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*workers, reader, done]:
                task.cancel()
            await asyncio.gather(*workers, reader, done, return_exceptions=True)

    async def _route(self, incoming: AsyncIterator[bytes | str], ports: list[_Port]) -> None:
        """Client messages to their port's inbox; the WebSocket's end ends every port."""
        by_channel = {data_channel(p.index): p for p in ports}
        async for message in incoming:
            try:
                channel, data = self.codec.decode(message)
            except ValueError as err:
                log.debug("port-forward to %s: bad frame: %s", self.name, err)
                continue
            if channel == CLOSE and self.codec.closes:
                port = by_channel.get(data[0]) if data else None
                if port is not None:
                    port.inbox.put_nowait(_EOF)
                continue
            port = by_channel.get(channel)
            if port is not None and data:
                port.inbox.put_nowait(data)

    async def _forward(self, port: _Port, send: Send) -> None:
        try:
            reader, writer = await self.dial(self.pod_ip, port.number)
        except OSError as err:
            message = f"error forwarding port {port.number} to pod {self.name}, uid {self.uid}: {err}"
            log.info("%s", message)
            await send(self.codec.encode(error_channel(port.index), message.encode()))
            return

        async def to_pod() -> None:
            while (chunk := await port.inbox.get()) != _EOF:
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                if writer.can_write_eof():
                    writer.write_eof()
            await asyncio.Event().wait()  # half-closed: the pod's side still answers

        async def from_pod() -> None:
            while chunk := await reader.read(64 * 1024):
                await send(self.codec.encode(data_channel(port.index), chunk))
            if self.codec.closes:
                await send(self.codec.close_frame(data_channel(port.index)))

        tasks = [asyncio.ensure_future(to_pod()), asyncio.ensure_future(from_pod())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # the pod's EOF or a broken write
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
