"""The connection interface every transport implements.

A ``Connector`` is one persistent session to one host for the length of a run: commands go
through ``run`` (a POSIX shell command line, run by ``/bin/sh -c`` on the host, optionally
through sudo), files through ``put``/``get`` (whole contents as bytes; ``put`` is atomic: a
temp file in the target directory renamed over the target, so a killed run never leaves half
a file). Transports: ssh (paramiko; by default through the connection keeper, which holds
the session between runs as Ansible's ControlPersist does), local (subprocess, for
``ansible_connection: local``), fake (scripted, for unit tests); :mod:`.transports` chooses
one for a host.

Errors: ``UnreachableError`` means the host could not be reached or the session died (the
executor reports UNREACHABLE); ``CommandTimeoutError`` means one command overran its timeout
(a task failure, the session is still usable). A command that merely exits non-zero is a
``CommandResult`` with ``rc != 0``, never an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = [
    "CommandResult",
    "CommandTimeoutError",
    "ConnectionFailure",
    "Connector",
    "UnreachableError",
]


@dataclass(frozen=True)
class CommandResult:
    """What one remote command returned (text decoded as UTF-8, bad bytes replaced)."""

    rc: int
    stdout: str
    stderr: str
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0


class ConnectionFailure(Exception):
    """Base of the transport's own errors."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


class UnreachableError(ConnectionFailure):
    """The host cannot be reached or authenticated to, or the session was lost."""


class CommandTimeoutError(ConnectionFailure):
    """A command did not finish within its timeout (it was abandoned)."""


class Connector(ABC):
    """One persistent session to one host. Not thread-safe: one executor thread per host."""

    host: str

    @abstractmethod
    def connect(self) -> None:
        """Open the session (idempotent). Raises UnreachableError."""

    @abstractmethod
    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run ``cmd`` with /bin/sh -c; connects first if needed."""

    @abstractmethod
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
        """Atomically replace ``path`` with ``data`` (mode/owner/group set before the rename).

        Without ``mode`` a new file gets 0644 (minus nothing: umask is not applied) and an
        existing file keeps its mode. Raises OSError-like ``ConnectionFailure`` subclasses
        only for transport problems; a refused write raises ``PermissionError``/``OSError``.
        """

    @abstractmethod
    def get(self, path: str, *, become: bool = False) -> bytes:
        """Whole contents of ``path``; FileNotFoundError if it does not exist."""

    @abstractmethod
    def close(self) -> None:
        """Close the session (idempotent)."""

    def responsive(self, timeout: float) -> bool:
        """Whether the open session still answers, within ``timeout`` seconds (False when
        there is none, or the transport cannot tell: then the caller connects anew)."""
        return False

    def reset(self) -> None:
        """A new session from here on (``meta: reset_connection``: a user's new group
        membership, say, applies only to sessions opened after it)."""
        self.close()
        self.connect()

    def __enter__(self) -> Connector:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

