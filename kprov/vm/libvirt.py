"""libvirt on machines whose PID 1 is not systemd: start its daemons by hand, stop only those.

Where systemd runs, libvirt-daemon-system's units start libvirtd and virtlogd on demand and
nothing here is needed. Where it does not (containers, CI runners like this machine),
``start_daemons`` starts the ones that are not answering and returns their pids, and
``stop_daemons`` stops exactly those pids — never daemons someone else started.
``leftovers`` lists what of kprov's is still defined (domains, networks, volumes named with
a prefix), for tests that must leave a shared machine clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kprov.lab.errors import LabError
from kprov.lab.system import pid_alive, wait_pid_gone

__all__ = ["Leftovers", "leftovers", "libvirt_answers", "recorded_daemons", "start_daemons", "stop_daemons",
           "virsh"]

URI = "qemu:///system"
RUN_DIR = Path("/run/kprov-vm")


def virsh(*args: str, check: bool = True, timeout: float = 120) -> str:
    proc = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise LabError(f"virsh {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def libvirt_answers() -> bool:
    try:
        return subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, timeout=20,
                              stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _daemon_running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def start_daemons(run_dir: Path = RUN_DIR, timeout: float = 60) -> list[int]:
    """Start virtlogd and libvirtd where they do not run; the pids of those started here."""
    if libvirt_answers():
        return []
    run_dir.mkdir(parents=True, exist_ok=True)
    started: list[int] = []
    for name, args in (("virtlogd", ["-d"]), ("libvirtd", ["-d"])):
        if _daemon_running(name):
            continue
        pidfile = run_dir / f"{name}.pid"
        pidfile.unlink(missing_ok=True)
        proc = subprocess.run([name, *args, "-p", str(pidfile)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)
        if proc.returncode != 0:
            stop_daemons(started)
            raise LabError(f"{name} did not start: {(proc.stderr or proc.stdout).strip()}")
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        started.append(int(pidfile.read_text().strip()))
    deadline = time.monotonic() + timeout
    while not libvirt_answers():
        if time.monotonic() > deadline:
            stop_daemons(started)
            raise LabError(f"libvirtd started but {URI} does not answer within {timeout:.0f} s")
        time.sleep(0.5)
    return started


def recorded_daemons(run_dir: Path = RUN_DIR) -> list[int]:
    """Pids of daemons start_daemons started that still run (virtlogd first), from their pid files."""
    pids = []
    for name in ("virtlogd", "libvirtd"):
        try:
            pid = int((run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        if pid_alive(pid) and Path(f"/proc/{pid}/comm").read_text().strip() == name:
            pids.append(pid)
    return pids


def stop_daemons(pids: list[int], timeout: float = 30) -> None:
    """SIGTERM each pid (started by start_daemons), SIGKILL what is left after ``timeout``."""
    for pid in reversed(pids):  # libvirtd before virtlogd
        if not pid_alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        if not wait_pid_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            wait_pid_gone(pid, 5)


@dataclass
class Leftovers:
    domains: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.domains or self.networks or self.volumes)


def _names(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip()]


def leftovers(prefix: str = "kprov-", pool: str = "default",
              volume_prefixes: tuple[str, ...] = ()) -> Leftovers:
    """Domains, networks and volumes (in ``pool``) whose names start with ``prefix``."""
    found = Leftovers(
        domains=[n for n in _names(virsh("list", "--all", "--name")) if n.startswith(prefix)],
        networks=[n for n in _names(virsh("net-list", "--all", "--name")) if n.startswith(prefix)],
    )
    if pool in _names(virsh("pool-list", "--all", "--name")):
        volumes = [line.split()[0] for line in virsh("vol-list", pool).splitlines()[2:] if line.strip()]
        found.volumes = [v for v in volumes if v.startswith((prefix, *volume_prefixes))]
    return found
