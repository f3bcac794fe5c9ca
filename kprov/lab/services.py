"""Starting and stopping the lab's detached processes: host supervisors, package servers.

Both run as ``python -m`` modules in their own session (setsid), so they outlive the
command that started them; their pids are recorded in the instance's state dir.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kprov.lab.errors import LabError
from kprov.lab.layout import REPO_PORT, LabLayout
from kprov.lab.system import read_pid, wait_pid_gone

__all__ = ["ensure_repo_server", "launch_supervisor", "stop_repo_server"]


def _launch_detached(argv: list[str], log_path: Path, pidfile: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc


def launch_supervisor(layout: LabLayout, host: str) -> int:
    """Start the supervisor that boots ``host``; returns its pid."""
    argv = [sys.executable, "-m", "kprov.lab.supervisor", "--root", str(layout.root),
            "--lab", str(layout.index), "--host", host]
    return _launch_detached(argv, layout.console_log(host), layout.supervisor_pidfile(host)).pid


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_repo_server(layout: LabLayout, timeout: float = 10.0) -> bool:
    """Start the instance's server unless it runs; True if it was started now."""
    if read_pid(layout.repo_server_pidfile) is not None:
        return False
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "kprov.lab.reposerver", "--bind", layout.gateway,
            "--port", str(REPO_PORT), "--directory", str(layout.repo_dir)]
    proc = _launch_detached(argv, layout.repo_server_log, layout.repo_server_pidfile)
    deadline = time.monotonic() + timeout
    while not _port_open(layout.gateway, REPO_PORT):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"the package server of lab {layout.index} did not start on "
                           f"{layout.gateway}:{REPO_PORT}; see {layout.repo_server_log}")
        time.sleep(0.05)
    return True


def stop_repo_server(layout: LabLayout) -> None:
    pid = read_pid(layout.repo_server_pidfile)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        if not wait_pid_gone(pid, 5):
            os.kill(pid, signal.SIGKILL)
            wait_pid_gone(pid, 5)
    layout.repo_server_pidfile.unlink(missing_ok=True)
