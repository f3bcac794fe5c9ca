"""The process that keeps one lab host powered: ``python -m kprov.lab.supervisor``.

Started detached (its own session) by kprov.lab.services, it records its pid, moves itself into the
host's own cgroups, then runs systemd-nspawn in a loop: a ``reboot`` inside the host makes
nspawn exit 133 and the loop boots the host again; any other exit ends the supervisor. On
SIGTERM it forwards SIGTERM to nspawn, which powers the host off in order, and exits when
nspawn does. After each boot it records the host's init pid (leader.pid) and remounts the
cgroup-v1 controllers read-write inside the host so containerd/runc can use them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from kprov.lab.cgroups import create_and_enter
from kprov.lab.layout import LabLayout
from kprov.lab.nspawn import NSPAWN_ENV, REBOOT_EXIT_CODE, nspawn_command, writable_cgroups_command

__all__ = ["find_leader", "main"]


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(x) for x in task.read_text().split()]
        except OSError:
            continue
    return kids


def find_leader(nspawn_pid: int, timeout: float = 30.0) -> int | None:
    """The host's init (a child of nspawn in another pid namespace running systemd)."""
    own_ns = os.readlink(f"/proc/{nspawn_pid}/ns/pid")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(nspawn_pid):
            try:
                in_other_ns = os.readlink(f"/proc/{child}/ns/pid") != own_ns
                comm = Path(f"/proc/{child}/comm").read_text().strip()
            except OSError:
                continue
            if in_other_ns and comm == "systemd":
                return child
        try:
            os.kill(nspawn_pid, 0)
        except ProcessLookupError:
            return None
        time.sleep(0.05)
    return None


class _Supervisor:
    def __init__(self, layout: LabLayout, host: str) -> None:
        self.layout = layout
        self.host = host
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None

    def on_term(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def boot_once(self) -> int:
        env = {**os.environ, **NSPAWN_ENV}
        argv = nspawn_command(self.layout, self.host)
        self.child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
        leader = find_leader(self.child.pid)
        if leader is not None:
            subprocess.run(writable_cgroups_command(leader), check=False, stdin=subprocess.DEVNULL)
            self.layout.leader_pidfile(self.host).write_text(f"{leader}\n")
            _log(f"booted, init pid {leader}")
        return self.child.wait()

    def run(self) -> int:
        rc = 0
        while not self.stopping:
            rc = self.boot_once()
            _log(f"nspawn exited rc={rc}")
            if rc != REBOOT_EXIT_CODE:
                break
        return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kprov.lab.supervisor")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--lab", type=int, required=True)
    parser.add_argument("--host", required=True)
    args = parser.parse_args(argv)
    layout = LabLayout(args.lab, args.root)
    pidfile = layout.supervisor_pidfile(args.host)
    pidfile.write_text(f"{os.getpid()}\n")
    supervisor = _Supervisor(layout, args.host)
    signal.signal(signal.SIGTERM, supervisor.on_term)
    signal.signal(signal.SIGINT, supervisor.on_term)
    try:
        create_and_enter(layout.cgroup(args.host), os.getpid())
        return supervisor.run()
    finally:
        layout.leader_pidfile(args.host).unlink(missing_ok=True)
        pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
