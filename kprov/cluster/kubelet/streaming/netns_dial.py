"""Dialing a port on a pod's own loopback: the connection is made inside the pod's network namespace.

Upstream's runtime (containerd's CRI PortForward) enters the sandbox's network namespace and
connects to localhost there, so a server bound only to 127.0.0.1 in the pod is reachable by
``kubectl port-forward`` (the e2e "server listening on localhost" specs). The kubelet does the
same: :func:`dial_in_netns` switches one short-lived thread into the namespace (``setns``
affects only the calling thread), connects, switches back, and hands the socket to asyncio;
a socket keeps the namespace it was made in. The thread is its own, never a pool's, so a
failed switch back cannot leave a shared thread in a pod's namespace.
:func:`sandbox_netns_path` reads the namespace from containerd's verbose sandbox status
(its ``runtimeSpec``; else the sandbox's pid).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading

__all__ = ["dial_in_netns"]

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _connect_inside(netns: str, port: int, timeout: float) -> socket.socket:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


async def dial_in_netns(
    netns: str, port: int, timeout: float = 10.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to 127.0.0.1:``port`` inside the network namespace at ``netns``."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def settle(result: socket.socket | Exception) -> None:
        if done.done():  # the caller went away: nobody will use the socket
            if isinstance(result, socket.socket):
                result.close()
        elif isinstance(result, Exception):
            done.set_exception(result)
        else:
            done.set_result(result)

    def work() -> None:
        result: socket.socket | Exception
        try:
            result = _connect_inside(netns, port, timeout)
        except Exception as exc:  # handed to the awaiting coroutine
            result = exc
        loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=work, name="netns-dial", daemon=True).start()
    sock = await done
    sock.settimeout(None)
    sock.setblocking(False)
    return await asyncio.open_connection(sock=sock)
