"""Detached child processes with a pid file and a log file, stopped by pid (never by name).

A local control plane outlives the ``kprov local up`` command that started it, so each
component runs in its own session (``start_new_session``) with stdout/stderr in
``<dir>/logs/<name>.log`` and its pid in ``<dir>/run/<name>.pid``; ``stop`` reads that pid,
checks the process is still the one we started (its command line), and terminates it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["is_running", "pid_of", "start_detached", "started_names", "stop_process"]


def _pid_file(base: Path, name: str) -> Path:
    return base / "run" / f"{name}.pid"


def start_detached(base: Path, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    (base / "run").mkdir(parents=True, exist_ok=True)
    (base / "logs").mkdir(parents=True, exist_ok=True)
    with open(base / "logs" / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            close_fds=True,
        )
    _pid_file(base, name).write_text(f"{proc.pid}\n{argv[0]}\n")
    return proc.pid


def pid_of(base: Path, name: str) -> int | None:
    """The pid of a component we started, if that process still runs that program."""
    try:
        pid_text, program = (_pid_file(base, name).read_text().splitlines() + [""])[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return None
    # An empty command line is a process still in its exec: Popen returns before the new
    # image's arguments show in /proc (measured: most reads right after a start), and taking
    # it for gone made `up` start a second API server and leave the first running.
    if program and cmdline[0] and cmdline[0].decode(errors="replace") != program:
        return None
    return pid


def started_names(base: Path) -> list[str]:
    """The names of every component with a pid file in ``base`` (running or not), sorted."""
    return sorted(p.stem for p in (base / "run").glob("*.pid"))


def is_running(base: Path, name: str) -> bool:
    return pid_of(base, name) is not None


def stop_process(base: Path, name: str, timeout_s: float = 10.0) -> bool:
    """Terminate a component (SIGTERM, then SIGKILL); True if it was running."""
    pid = pid_of(base, name)
    _pid_file(base, name).unlink(missing_ok=True)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return True
