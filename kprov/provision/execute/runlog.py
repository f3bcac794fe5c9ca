"""The run log: every command, file transfer, exit code and timing, one line each.

Location: ``$KPROV_LOG_DIR`` if set, else ``/var/log/kprov/`` when writable (root), else
``~/.kprov/logs/``; one file per run, ``run-<UTC time>-<pid>.log``. Lines are tab-separated:
time, host, kind (run/put/get/event), rc, seconds, become, detail (command text). The file
is mode 0600 and every detail is redacted (kprov.provision.redact): no key or token in a log.
While a thread runs a ``no_log`` task (``RunLog.hiding``), its commands and transfers are
logged without their text, as ansible-core keeps such a task's invocation out of its log.

:class:`LoggedConnector` wraps any Connector: it logs each call and serialises calls with a
lock (so a task delegated to another host can share that host's session safely).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from kprov.provision.connect.base import CommandResult, Connector
from kprov.provision.redact import redact_text

__all__ = ["LoggedConnector", "RunLog", "default_log_dir"]


def default_log_dir() -> Path:
    env = os.environ.get("KPROV_LOG_DIR")
    if env:
        return Path(env)
    system = Path("/var/log/kprov")
    try:
        system.mkdir(parents=True, exist_ok=True)
        if os.access(system, os.W_OK):
            return system
    except OSError:
        pass
    return Path.home() / ".kprov" / "logs"


class RunLog:
    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or default_log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.path = directory / f"run-{stamp}-{os.getpid()}.log"
        # 0600: commands and paths of a cluster run are the operator's business alone
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: IO[str] = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._hidden = threading.local()  # per host thread: inside a no_log task

    @contextlib.contextmanager
    def hiding(self, on: bool = True) -> Iterator[None]:
        """While ``on``: this thread's run/put/get lines say ``(hidden: no_log)``, not their text."""
        before = getattr(self._hidden, "on", False)
        self._hidden.on = before or on
        try:
            yield
        finally:
            self._hidden.on = before

    def write(self, host: str, kind: str, rc: int | str, seconds: float, become: bool, detail: str) -> None:
        if kind in ("run", "put", "get") and getattr(self._hidden, "on", False):
            detail = "(hidden: no_log)"
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        flat = redact_text(detail).replace("\n", "\\n").replace("\t", " ")
        line = f"{now}\t{host}\t{kind}\t{rc}\t{seconds:.3f}\t{'become' if become else '-'}\t{flat}\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()  # so `tail -f` follows a running apply

    def event(self, host: str, detail: str) -> None:
        self.write(host, "event", "-", 0.0, False, detail)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class LoggedConnector(Connector):
    """A Connector that logs and serialises every call of the one it wraps."""

    def __init__(self, inner: Connector, log: RunLog) -> None:
        self.inner = inner
        self.host = inner.host
        self.log = log
        self._lock = threading.RLock()

    def connect(self) -> None:
        start = time.monotonic()
        with self._lock:
            try:
                self.inner.connect()
            except Exception as err:
                self.log.write(self.host, "connect", "ERR", time.monotonic() - start, False, str(err))
                raise
        self.log.write(self.host, "connect", 0, time.monotonic() - start, False, "")

    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        start = time.monotonic()
        with self._lock:
            try:
                result = self.inner.run(
                    cmd, become=become, become_user=become_user, stdin=stdin, timeout=timeout
                )
            except Exception as err:
                self.log.write(self.host, "run", "ERR", time.monotonic() - start, become, f"{cmd}  # {err}")
                raise
        self.log.write(self.host, "run", result.rc, time.monotonic() - start, become, cmd)
        return result

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
        start = time.monotonic()
        with self._lock:
            try:
                self.inner.put(data, path, mode=mode, become=become, owner=owner, group=group)
            except Exception as err:
                self.log.write(self.host, "put", "ERR", time.monotonic() - start, become, f"{path}  # {err}")
                raise
        self.log.write(self.host, "put", 0, time.monotonic() - start, become, f"{path} ({len(data)} bytes)")

    def get(self, path: str, *, become: bool = False) -> bytes:
        start = time.monotonic()
        with self._lock:
            try:
                data = self.inner.get(path, become=become)
            except Exception as err:
                self.log.write(self.host, "get", "ERR", time.monotonic() - start, become, f"{path}  # {err}")
                raise
        self.log.write(self.host, "get", 0, time.monotonic() - start, become, f"{path} ({len(data)} bytes)")
        return data

    def reset(self) -> None:
        start = time.monotonic()
        with self._lock:
            self.inner.reset()
        self.log.write(self.host, "reset", 0, time.monotonic() - start, False, "")

    def close(self) -> None:
        with self._lock:
            self.inner.close()
