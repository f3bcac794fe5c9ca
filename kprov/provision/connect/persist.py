"""The ssh transport through the connection keeper: a run's session to a host that outlives the run.

:class:`PersistentSSHConnector` is the :class:`Connector` a run uses when the host's
``control_persist`` is on (the default, 60 s, as Ansible's ssh connection): every call goes
over a Unix socket to the keeper (``persist_daemon``), which holds the paramiko session and
keeps it for that long after the run, so the next run within it connects in a socket
round trip instead of an SSH handshake. The first run that finds no keeper starts one
(detached: it outlives the run) under a lock file, so many hosts connecting at once start
one keeper. Errors come back as the same exceptions the direct transport raises.

A keeper runs the code of the kprov that started it, so each installed kprov has its own:
``keeper-<id>.sock`` (and its lock and log), the id a hash of the package's directory, its
version and the Python environment (``keeper_name``). Runs from two trees or two installs
never share a keeper (one would serve the other with its own, maybe older, code and wire).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import os
import socket
import stat
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult, CommandTimeoutError, Connector, UnreachableError
from kprov.provision.connect.persist_wire import WireClosed, receive, send
from kprov.provision.connect.settings import ConnectionSettings

__all__ = ["PersistentSSHConnector", "control_dir", "install_id", "keeper_name", "keeper_path",
           "keeper_socket", "stop_keeper"]

_START_WAIT_S = 10.0
_OPEN_ATTEMPTS = 3  # a keeper may be ending just as a run reaches it: start another
_FOREVER_S = 1e9  # JSON has no infinity
_OS_ERRORS: dict[str, type[OSError]] = {
    cls.__name__: cls
    for cls in (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)
}


def control_dir() -> Path:
    """Where the keeper's socket lives: ``KPROV_CONTROL_PATH_DIR`` or ``~/.kprov/cp``."""
    return Path(os.environ.get("KPROV_CONTROL_PATH_DIR") or Path.home() / ".kprov" / "cp")


def install_id(package: Path, release: str, prefix: str) -> str:
    """The id of one installed kprov: its package directory, version and Python environment."""
    return hashlib.sha256("\n".join((str(package), release, prefix)).encode()).hexdigest()[:16]


@functools.cache
def keeper_name() -> str:
    """This kprov's keeper, ``keeper-<id>``: the stem of its socket, lock and log files."""
    try:
        release = version("kprov")
    except PackageNotFoundError:
        release = "unknown"
    return f"keeper-{install_id(Path(__file__).resolve().parents[2], release, sys.prefix)}"


def keeper_path(directory: Path) -> Path:
    """The socket of this kprov's keeper in ``directory``."""
    return directory / f"{keeper_name()}.sock"


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise PermissionError(
            f"{path} must be a directory owned by you with mode 0700 (it holds the socket of your "
            f"SSH sessions); fix it (chmod 700 {path}) or set KPROV_CONTROL_PATH_DIR")
    return path


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def keeper_socket(directory: Path) -> socket.socket:
    """A connection to the keeper of ``directory``, starting one if none answers."""
    path = keeper_path(_private_dir(directory))
    with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
        return _connect(path)
    with open(directory / f"{keeper_name()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
            return _connect(path)
        with open(directory / f"{keeper_name()}.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "kprov.provision.connect.persist_daemon", "--socket", str(path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd="/",
                start_new_session=True, close_fds=True,
            )
        deadline = time.monotonic() + _START_WAIT_S
        while True:
            try:
                return _connect(path)
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise ConnectionRefusedError(
                        f"the connection keeper did not start; see {directory}/{keeper_name()}.log") from None
                time.sleep(0.01)


def stop_keeper(directory: Path | None = None) -> bool:
    """Close every held session and end this kprov's keeper (False: none was running)."""
    path = keeper_path(directory or control_dir())
    try:
        sock = _connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    with sock:
        send(sock, {"op": "shutdown"})
        with contextlib.suppress(WireClosed, OSError):
            receive(sock)
    deadline = time.monotonic() + _START_WAIT_S
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _wire_settings(settings: ConnectionSettings) -> dict[str, Any]:
    wire = dataclasses.asdict(settings)
    for name in ("key_file", "known_hosts_file"):  # the keeper runs in /
        if wire[name]:
            wire[name] = os.path.abspath(wire[name])
    return wire


class PersistentSSHConnector(Connector):
    def __init__(self, host: str, settings: ConnectionSettings, directory: Path | None = None) -> None:
        self.host = host
        self.settings = settings
        self.directory = directory or control_dir()
        self.reused: bool | None = None  # whether the last connect found a held session
        self._sock: socket.socket | None = None

    def connect(self) -> None:
        if self._sock is not None:
            return
        persist = self.settings.control_persist
        header = {"op": "open", "settings": _wire_settings(self.settings),
                  "persist": _FOREVER_S if persist == float("inf") else persist}
        last: Exception | None = None
        for _ in range(_OPEN_ATTEMPTS):
            try:
                sock = keeper_socket(self.directory)
            except OSError as exc:
                raise UnreachableError(self.host, f"connection keeper: {exc}") from exc
            try:
                send(sock, header)
                reply, _ = receive(sock)
            except (WireClosed, OSError) as exc:
                sock.close()
                last = exc
                continue
            if "error" in reply:
                sock.close()
                self._raise(reply)
            self.reused = bool(reply.get("reused"))
            self._sock = sock
            return
        raise UnreachableError(self.host, f"connection keeper: {last}")

    def _raise(self, reply: dict[str, Any]) -> None:
        kind, message = reply["error"], str(reply.get("message", ""))
        if kind == "timeout":
            raise CommandTimeoutError(self.host, message)
        if kind == "os":
            if reply.get("errno") is None:
                raise _OS_ERRORS.get(str(reply.get("type")), OSError)(message)
            raise OSError(reply["errno"], reply.get("strerror") or message, reply.get("filename"))
        if kind == "unreachable":
            raise UnreachableError(self.host, message)
        raise UnreachableError(self.host, f"connection keeper: {message}")

    def _call(
        self, header: dict[str, Any], blobs: list[bytes] | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        self.connect()
        assert self._sock is not None
        try:
            send(self._sock, header, blobs or [])
            reply, out = receive(self._sock)
        except (WireClosed, OSError) as exc:
            self.close()
            raise UnreachableError(self.host, f"connection keeper lost: {exc}") from exc
        if "error" in reply:
            self._raise(reply)
        return reply, out

    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        reply, (out, err) = self._call(
            {"op": "run", "cmd": cmd, "become": become, "become_user": become_user, "timeout": timeout,
             "has_stdin": stdin is not None},
            [stdin or b""],
        )
        return CommandResult(reply["rc"], out.decode(), err.decode(), reply["duration_s"])

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
        header = {"op": "put", "path": path, "mode": mode, "become": become, "owner": owner, "group": group}
        self._call(header, [data])

    def get(self, path: str, *, become: bool = False) -> bytes:
        _, (data,) = self._call({"op": "get", "path": path, "become": become})
        return data

    def reset(self) -> None:
        self._call({"op": "drop"})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
