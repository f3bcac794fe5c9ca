"""Running ``kubectl exec`` for one websocket: non-interactive via CRI, interactive via ctr.

Choice: a command without stdin and without a TTY runs through CRI ``ExecSync`` (pure CRI,
exact exit code, stdout and stderr kept apart; output arrives when the command ends). A
command with stdin or a TTY needs a live bidirectional stream: containerd's CRI streaming
server speaks SPDY (and websocket without a stdin-close signal), so instead the kubelet
runs ``ctr -n k8s.io tasks exec`` on the node against the same containerd (CRI container
ids are containerd container ids) with pipes, or a pty for ``-t``. Stdin EOF (``\\xff\\x00``)
closes the pipe; resize messages set the pty window size. Both paths end with one status
message on channel 3 (see :mod:`kprov.cluster.streaming.channels`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import secrets
import struct
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from kprov.cluster.kubelet.context import Runtime
from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.streaming import channels as ch

__all__ = ["ExecRequest", "ctr_command", "run_exec"]

Send = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class ExecRequest:
    container_id: str
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def ctr_command(ctr: str, address: str, req: ExecRequest) -> list[str]:
    argv = [
        ctr,
        "--address",
        address,
        "--namespace",
        "k8s.io",
        "tasks",
        "exec",
        "--exec-id",
        "kprov-" + secrets.token_hex(6),
    ]
    if req.tty:
        argv.append("--tty")
    return [*argv, req.container_id, *req.command]


async def _exec_sync(runtime: Runtime, req: ExecRequest, send: Send) -> None:
    try:
        result = await runtime.exec_sync(req.container_id, req.command, 0)
    except CRIError as err:
        await send(ch.encode(ch.ERROR, ch.failure_status(err.details or str(err))))
        return
    if req.stdout and result.stdout:
        await send(ch.encode(ch.STDOUT, result.stdout))
    if req.stderr and result.stderr:
        await send(ch.encode(ch.STDERR, result.stderr))
    await send(ch.encode(ch.ERROR, ch.exit_status(result.exit_code)))


def _set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def _pump_reader(reader: asyncio.StreamReader, channel: int, send: Send) -> None:
    while chunk := await reader.read(32 * 1024):
        await send(ch.encode(channel, chunk))


async def _pump_pty(master: int, send: Send) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await loop.run_in_executor(None, os.read, master, 32 * 1024)
        except OSError:
            return  # EIO once the child side is closed
        if not chunk:
            return
        await send(ch.encode(ch.STDOUT, chunk))


async def _interactive(argv: list[str], req: ExecRequest, incoming: AsyncIterator[bytes], send: Send) -> None:
    master = slave = -1
    if req.tty:
        master, slave = pty.openpty()
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        pumps = [asyncio.create_task(_pump_pty(master, send))]
    else:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            asyncio.create_task(_pump_reader(proc.stdout, ch.STDOUT, send)),
            asyncio.create_task(_pump_reader(proc.stderr, ch.STDERR, send)),
        ]

    async def feed() -> None:
        async for message in incoming:
            frame = ch.decode(message)
            if frame.channel == ch.STDIN and frame.data:
                if req.tty:
                    os.write(master, frame.data)
                elif proc.stdin is not None:
                    proc.stdin.write(frame.data)
                    await proc.stdin.drain()
            elif frame.channel == ch.CLOSE and frame.data[:1] == bytes([ch.STDIN]):
                if req.tty:
                    os.write(master, b"\x04")  # EOF at the terminal
                elif proc.stdin is not None:
                    proc.stdin.close()
            elif frame.channel == ch.RESIZE and req.tty:
                size = ch.parse_resize(frame.data)
                if size and size[0] and size[1]:
                    _set_winsize(master, *size)

    feeder = asyncio.create_task(feed())
    try:
        code = await proc.wait()
        await asyncio.wait(pumps, timeout=5)
    finally:
        feeder.cancel()
        for task in pumps:
            task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        if master >= 0:
            os.close(master)
    await send(ch.encode(ch.ERROR, ch.exit_status(code)))


async def run_exec(
    runtime: Runtime, ctr: str, address: str, req: ExecRequest, incoming: AsyncIterator[bytes], send: Send
) -> None:
    if not req.stdin and not req.tty:
        await _exec_sync(runtime, req, send)
        return
    await _interactive(ctr_command(ctr, address, req), req, incoming, send)
