"""Commands on lab hosts over SSH (paramiko), as root with the shared lab key.

Lab hosts get fresh host keys whenever they are created, so host keys are not checked.
``ssh_argv`` gives the OpenSSH client command line for interactive use.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

from kprov.lab.errors import LabError

__all__ = ["SSH_OPTIONS", "run_ssh", "ssh_argv", "upload", "wait_ssh"]

SSH_OPTIONS: tuple[str, ...] = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
)


def _connect(ip: str, key: Path, timeout: float) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(ip, username="root", key_filename=str(key), look_for_keys=False, allow_agent=False,
                   timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    return client


def run_ssh(ip: str, key: Path, command: str, timeout: float = 120.0) -> tuple[int, str, str]:
    """Run ``command`` on ``ip``: (exit status, stdout, stderr). Connection errors raise OSError
    or paramiko.SSHException."""
    client = _connect(ip, key, min(timeout, 10.0))
    try:
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return stdout.channel.recv_exit_status(), out, err
    finally:
        client.close()


def upload(ip: str, key: Path, local: Path, remote: str) -> None:
    client = _connect(ip, key, 10.0)
    try:
        with client.open_sftp() as sftp:
            sftp.put(str(local), remote)
    finally:
        client.close()


def wait_ssh(ip: str, key: Path, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Wait until sshd on ``ip`` accepts the lab key (give up early once ``alive()`` is false)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            _connect(ip, key, 3.0).close()
            return True
        except (OSError, paramiko.SSHException, EOFError):
            time.sleep(0.3)
    return False


def ssh_argv(ip: str, key: Path, command: list[str] | None = None) -> list[str]:
    if shutil.which("ssh") is None:
        raise LabError("the OpenSSH client is missing: apt-get install openssh-client")
    argv = ["ssh", "-i", str(key), *SSH_OPTIONS, f"root@{ip}"]
    if command:
        argv.append(" ".join(command))
    return argv
