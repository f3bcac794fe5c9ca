"""The kubelet's side of ``portforward.k8s.io``: pairs of SPDY streams to TCP connections into a pod.

For every local connection kubectl accepts, it opens two streams on the session with the
same ``requestID`` and ``port`` headers: an ``error`` stream (which it half-closes at once)
and a ``data`` stream. Once both of a pair are open, the kubelet dials the pod's port and
copies bytes both ways on the data stream; if the dial fails, the reason goes down the error
stream in the kubelet's words (``error forwarding port P to pod NAME, uid UID: ...``), which
kubectl prints. A pair that stays incomplete for ``pair_timeout_s`` is reset.

The kubelet's server decides how a port is dialled (``dial``): on the pod's own loopback,
inside its network namespace, as upstream's runtime does (:mod:`.netns_dial`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kprov.cluster.streaming.spdy import SpdyStream

__all__ = ["PROTOCOL", "Dial", "PortForwarder", "TUNNEL_PROTOCOL"]

log = logging.getLogger(__name__)
PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"

Dial = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


@dataclass
class _Pair:
    data: SpdyStream | None = None
    error: SpdyStream | None = None


@dataclass
class PortForwarder:
    """Serve one session's stream pairs for the pod ``name`` (uid ``uid``) at ``pod_ip``."""

    name: str
    uid: str
    pod_ip: str
    dial: Dial = _open
    pair_timeout_s: float = 30.0
    _pairs: dict[str, _Pair] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.headers.get("streamtype", "")
        request = stream.headers.get("requestid", "")
        pair = self._pairs.setdefault(request, _Pair())
        if kind == "data":
            pair.data = stream
        elif kind == "error":
            pair.error = stream
        else:
            self._spawn(stream.reset())
            return
        if pair.data is not None and pair.error is not None:
            del self._pairs[request]
            self._spawn(self._forward(pair.data, pair.error))
        elif len([p for p in (pair.data, pair.error) if p]) == 1:
            self._spawn(self._expire(request))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, request: str) -> None:
        await asyncio.sleep(self.pair_timeout_s)
        pair = self._pairs.pop(request, None)
        if pair is None:
            return
        for stream in (pair.data, pair.error):
            if stream is not None:
                await stream.reset()

    async def _forward(self, data: SpdyStream, error: SpdyStream) -> None:
        port_text = data.headers.get("port", "")
        try:
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            await error.write(f"invalid port: {port_text!r}".encode())
            await error.close()
            await data.close()
            return
        try:
            reader, writer = await self.dial(self.pod_ip, port)
        except OSError as err:
            message = f"error forwarding port {port} to pod {self.name}, uid {self.uid}: {err}"
            log.info("%s", message)
            await error.write(message.encode())
            await error.close()
            await data.close()
            return

        async def upstream() -> None:  # client -> pod
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                if writer.can_write_eof():
                    writer.write_eof()

        async def downstream() -> None:  # pod -> client
            while chunk := await reader.read(64 * 1024):
                await data.write(chunk)
            await data.close()

        # the pod closing its side ends the pair; the client closing its side only half-closes
        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            while not tasks[1].done():
                await asyncio.wait([t for t in tasks if not t.done()], return_when=asyncio.FIRST_COMPLETED)
                if tasks[0].done() and not tasks[0].cancelled() and tasks[0].exception() is not None:
                    break  # the pod connection broke while sending
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
            with contextlib.suppress(Exception):
                await data.close()
                await error.close()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
