"""A persistent remote shell: many commands over ONE ssh channel, no per-command session setup.

Opening an exec channel costs the host a fork of sshd's session child, PAM session hooks
and a login shell for every command (tens of ms). Instead one ``/bin/sh`` is started per
connection and each command is written to its stdin framed by a fresh random token:

    printf %s '<stdin base64>' | base64 -d | <command line>      (or: <command line> </dev/null)
    __kprov_rc=$?; printf '<token>:%s\\n' "$__kprov_rc"; printf '<token>\\n' >&2

The command runs in its own ``/bin/sh -c`` child (the transport's wrapping), so ``cd``,
variables or ``exit`` never leak into the runner. Its output ends where the token starts on
each stream. A command that overruns its timeout abandons the shell (the next command
starts a new one). Large stdin payloads go through a plain exec channel instead.
A background job a command leaves writing to its stdout: output that arrives between
commands is discarded; output that arrives during a later command lands in that command's
output (with one exec channel per command such a job would instead hang the command, as in
Ansible; redirect background jobs' output either way).
"""

from __future__ import annotations

import base64
import secrets
import select
import time

from kprov.provision.connect.sshlib import paramiko

__all__ = ["MAX_FRAMED_STDIN", "PersistentShell", "ShellLost", "ShellTimeout", "frame_end"]

MAX_FRAMED_STDIN = 64 * 1024


class ShellLost(Exception):
    """The runner shell's channel closed before the command's frame completed."""


class ShellTimeout(Exception):
    """The command did not finish in time; the shell was closed."""


class PersistentShell:
    def __init__(self, transport: paramiko.Transport, open_timeout: float) -> None:
        self._channel = transport.open_session(timeout=open_timeout)
        self._channel.exec_command("exec /bin/sh")

    @property
    def alive(self) -> bool:
        return not self._channel.closed and not self._channel.exit_status_ready()

    def close(self) -> None:
        self._channel.close()

    def run(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        token = secrets.token_hex(12).encode()
        if stdin:
            encoded = base64.b64encode(stdin).decode()
            script = f"printf %s '{encoded}' | base64 -d | {line}"
        else:
            script = f"{line} </dev/null"
        script += (
            f"\n__kprov_rc=$?; printf '{token.decode()}:%s\\n' \"$__kprov_rc\";"
            f" printf '{token.decode()}\\n' >&2\n"
        )
        self._drain()
        self._channel.sendall(script.encode())
        deadline = None if timeout is None else time.monotonic() + timeout
        out, err = bytearray(), bytearray()
        rc: int | None = None
        err_done = False
        while rc is None or not err_done:
            while self._channel.recv_ready():
                out += self._channel.recv(65536)
            while self._channel.recv_stderr_ready():
                err += self._channel.recv_stderr(65536)
            if rc is None:
                rc = frame_end(out, token)
            if not err_done:
                err_done = token + b"\n" in err
            if rc is not None and err_done:
                break
            if (
                self._channel.closed
                or self._channel.exit_status_ready()
                and not (self._channel.recv_ready() or self._channel.recv_stderr_ready())
            ):
                raise ShellLost(err.decode("utf-8", "replace")[-500:])
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                self.close()
                raise ShellTimeout()
            select.select([self._channel], [], [], min(wait, 1.0))
        return rc, bytes(out[: out.find(token + b":")]), bytes(err[: err.find(token + b"\n")])

    def _drain(self) -> None:
        """Discard stray output (from a background process of an earlier command)."""
        while self._channel.recv_ready():
            self._channel.recv(65536)
        while self._channel.recv_stderr_ready():
            self._channel.recv_stderr(65536)


def frame_end(out: bytes | bytearray, token: bytes) -> int | None:
    """The rc once a whole ``<token>:<rc>\\n`` line has arrived (stray bytes may follow it)."""
    start = out.find(token + b":")
    if start < 0:
        return None
    end = out.find(b"\n", start)
    if end < 0:
        return None
    value = bytes(out[start + len(token) + 1 : end])
    return int(value) if value.isdigit() else None
