"""The local transport (``ansible_connection: local``): subprocesses on the controller.

Commands run through ``/bin/sh -c`` with the same become wrapping as ssh (see ``shell``).
Files are placed atomically: written to a temp file beside the target, then renamed over it by
the shared finalize script (so owner/mode rules are the same as on remote hosts).
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from kprov.provision.connect.base import CommandResult, CommandTimeoutError, Connector
from kprov.provision.connect.settings import ConnectionSettings
from kprov.provision.connect.shell import finalize_script, needs_switch, wrap_command

__all__ = ["LocalConnector"]


class LocalConnector(Connector):
    def __init__(self, host: str = "localhost", settings: ConnectionSettings | None = None) -> None:
        self.host = host
        self._login_user = getpass.getuser()
        self._become_password = settings.become_password if settings else None

    def connect(self) -> None:
        return None

    def close(self) -> None:
        return None

    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes, float]:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", line],
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CommandTimeoutError(self.host, f"command timed out after {timeout} s") from None
        return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started

    def _line(
        self, cmd: str, become: bool, become_user: str | None, stdin: bytes | None
    ) -> tuple[str, bytes | None]:
        use_password = bool(self._become_password) and needs_switch(self._login_user, become, become_user)
        line = wrap_command(
            cmd,
            login_user=self._login_user,
            become=become,
            become_user=become_user,
            sudo_password=use_password and self._login_user != "root",
        )
        if use_password and self._login_user != "root":
            stdin = (self._become_password or "").encode() + b"\n" + (stdin or b"")
        return line, stdin

    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        line, data = self._line(cmd, become, become_user, stdin)
        rc, out, err, took = self._exec(line, data, timeout)
        return CommandResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), took)

    def put(
        self,
        data: bytes,
        path: str,
        *,
        mode: int | None = None,
        become: bool = False,
        owner: str | None = None,
        group: str | None = None,
    ) -> None:
        switch = needs_switch(self._login_user, become, None)
        directory = None if switch else os.path.dirname(path) or "."
        fd, staged = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.kprov-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            script = finalize_script(
                staged, path, mode=mode, owner=owner, group=group, copy_from_elsewhere=switch
            )
            result = self.run(script, become=become)
            if result.rc != 0:
                raise OSError(f"{self.host}: cannot write {path}: {result.stderr.strip()}")
        finally:
            Path(staged).unlink(missing_ok=True)

    def get(self, path: str, *, become: bool = False) -> bytes:
        if not needs_switch(self._login_user, become, None):
            return Path(path).read_bytes()
        line, data = self._line(f"cat -- {shlex.quote(path)}", become, None, None)
        rc, out, err, _ = self._exec(line, data, None)
        if rc != 0:
            message = err.decode("utf-8", "replace").strip()
            if "No such file" in message:
                raise FileNotFoundError(path)
            raise OSError(f"{self.host}: cannot read {path}: {message}")
        return out
