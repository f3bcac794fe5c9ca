"""Detached processes (kprov.local.processes): one just started counts as running."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kprov.local.processes import is_running, start_detached, stop_process

SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]


def test_a_process_just_started_is_running(tmp_path: Path) -> None:
    # Right after Popen the child may still be in its exec, its /proc command line empty:
    # that read as "exited" in most starts, and the local control plane then started a
    # second API server beside the first.
    for round_ in range(10):
        start_detached(tmp_path, "sleeper", SLEEPER)
        try:
            assert is_running(tmp_path, "sleeper"), f"start {round_}: taken for exited"
        finally:
            assert stop_process(tmp_path, "sleeper")
        assert not is_running(tmp_path, "sleeper")


def test_a_pid_running_another_program_is_not_ours(tmp_path: Path) -> None:
    start_detached(tmp_path, "sleeper", SLEEPER)
    pid_file = tmp_path / "run" / "sleeper.pid"
    pid = pid_file.read_text().split()[0]
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)  # its exec done
        pid_file.write_text(f"{pid}\n/usr/bin/not-this-program\n")
        assert not is_running(tmp_path, "sleeper")
    finally:
        pid_file.write_text(f"{pid}\n{SLEEPER[0]}\n")
        stop_process(tmp_path, "sleeper")
