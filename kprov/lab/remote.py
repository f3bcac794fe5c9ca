"""Commands on lab hosts over SSH, as root with the shared lab key, through the engine's connectors.

Every lab host is reached the way ``kprov apply`` reaches a host: its connection variables
given to :func:`kprov.provision.connect.reach.reach`, here the lab's own (its address, root,
the lab key; a direct session that ends with the call, no connection keeper). Lab hosts get
fresh host keys whenever they are created, so host keys are not checked. A host that cannot
be reached raises ``ConnectionError`` and a command that overruns ``TimeoutError`` (both
``OSError``). ``ssh_argv`` gives the OpenSSH client command line for interactive use.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kprov.lab.errors import LabError
from kprov.provision.connect.base import CommandTimeoutError, ConnectionFailure, Connector
from kprov.provision.connect.reach import reach

__all__ = ["SSH_OPTIONS", "lab_host_vars", "run_ssh", "ssh_argv", "upload", "wait_ssh"]

SSH_OPTIONS: tuple[str, ...] = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
)


def lab_host_vars(ip: str, key: Path, timeout: float) -> dict[str, Any]:
    """A lab host's connection variables (``timeout``: for connecting)."""
    return {
        "ansible_host": ip,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_timeout": timeout,
        "kprov_host_key_checking": False,
        "kprov_connect_retries": 0,
        "kprov_control_persist": 0,
        "kprov_persistent_shell": False,
    }


@contextmanager
def _session(ip: str, key: Path, timeout: float) -> Iterator[Connector]:
    connector = reach(ip, lab_host_vars(ip, key, timeout), lambda value, where: value)
    try:
        connector.connect()
        yield connector
    except CommandTimeoutError as err:
        raise TimeoutError(str(err)) from err
    except ConnectionFailure as err:
        raise ConnectionError(str(err)) from err
    finally:
        connector.close()


def run_ssh(ip: str, key: Path, command: str, timeout: float = 120.0) -> tuple[int, str, str]:
    """Run ``command`` on ``ip``: (exit status, stdout, stderr). Raises OSError (see above)."""
    with _session(ip, key, min(timeout, 10.0)) as connector:
        result = connector.run(command, timeout=timeout)
        return result.rc, result.stdout, result.stderr


def upload(ip: str, key: Path, local: Path, remote: str) -> None:
    with _session(ip, key, 10.0) as connector:
        connector.put(local.read_bytes(), remote)


def wait_ssh(ip: str, key: Path, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Wait until sshd on ``ip`` accepts the lab key (give up early once ``alive()`` is false)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with _session(ip, key, 3.0):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def ssh_argv(ip: str, key: Path, command: list[str] | None = None) -> list[str]:
    if shutil.which("ssh") is None:
        raise LabError("the OpenSSH client is missing: apt-get install openssh-client")
    argv = ["ssh", "-i", str(key), *SSH_OPTIONS, f"root@{ip}"]
    if command:
        argv.append(" ".join(command))
    return argv
