"""Per-host cgroups on a machine whose PID 1 is not systemd (cgroup v1 + unified hybrid).

Without its own cgroups, every host's systemd would land in the cgroup of whoever started
it, and the hosts' systemd instances would share (and fight over) unit cgroups. So each
host supervisor creates ``<name>`` in every mounted hierarchy and moves itself there before
starting systemd-nspawn. The memory controller of this machine is delegated per job, so the
host's memory cgroup is made under the caller's own memory cgroup (read from
/proc/self/cgroup); all other hierarchies get it at their root.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

__all__ = [
    "V1_CONTROLLERS",
    "create_and_enter",
    "find_host_cgroups",
    "kill_all",
    "processes",
    "remove",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
# v1 controllers made writable inside hosts (containerd/runc create cgroups in them)
V1_CONTROLLERS: tuple[str, ...] = (
    "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "memory",
)
_ALL_HIERARCHIES: tuple[str, ...] = (*V1_CONTROLLERS, "systemd", "unified")


def _own_path(hierarchy: str) -> str:
    """This process' cgroup path in ``hierarchy`` ("/" when unknown)."""
    wanted = {"systemd": "name=systemd", "unified": ""}.get(hierarchy, hierarchy)
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if wanted in controllers.split(",") or (wanted == "" and controllers == ""):
            return path
    return "/"


def _parent_dir(hierarchy: str) -> Path:
    top = CGROUP_ROOT / hierarchy
    if hierarchy != "memory":
        return top
    parts = [p for p in _own_path("memory").split("/") if p and not p.startswith("kprov-lab")]
    return top.joinpath(*parts)


def create_and_enter(name: str, pid: int) -> list[Path]:
    """Create cgroup ``name`` in every hierarchy and move ``pid`` into it."""
    made = []
    for hierarchy in _ALL_HIERARCHIES:
        if not (CGROUP_ROOT / hierarchy).is_dir():
            continue
        parent = _parent_dir(hierarchy)
        group = parent / name
        group.mkdir(exist_ok=True)
        if hierarchy == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if not (group / knob).read_text().strip():
                    (group / knob).write_text((parent / knob).read_text())
        (group / "cgroup.procs").write_text(str(pid))
        made.append(group)
    return made


def find_host_cgroups(name: str) -> list[Path]:
    """Every existing cgroup directory called ``name`` (at most 3 levels deep), any hierarchy."""
    found = []
    for hierarchy in _ALL_HIERARCHIES:
        top = CGROUP_ROOT / hierarchy
        for pattern in (name, f"*/{name}", f"*/*/{name}"):
            found += _glob_dirs(top, pattern)
    return found


def _glob_dirs(top: Path, pattern: str) -> list[Path]:
    """Directories matching ``pattern``; the scan is retried when a cgroup it walks through
    vanishes meanwhile (another lab instance stopping its hosts at the same moment)."""
    for _ in range(5):
        try:
            return [p for p in top.glob(pattern) if p.is_dir()]
        except FileNotFoundError:
            continue
    return [p for p in top.glob(pattern) if p.is_dir()]


def processes(groups: list[Path]) -> set[int]:
    """Pids in ``groups`` and all their descendants."""
    pids: set[int] = set()
    for group in groups:
        for procs in group.rglob("cgroup.procs"):
            try:
                pids |= {int(x) for x in procs.read_text().split()}
            except OSError:
                continue
    return pids


def kill_all(groups: list[Path], timeout: float = 10.0) -> None:
    """SIGKILL every process in ``groups`` until they are empty (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while (pids := processes(groups)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def remove(groups: list[Path], timeout: float = 10.0) -> list[Path]:
    """rmdir ``groups`` bottom-up; returns the directories that could not be removed."""
    deadline = time.monotonic() + timeout
    left = list(groups)
    while left:
        still = []
        for group in left:
            subdirs = sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            for path in [*subdirs, group]:
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    still.append(group)
                    break
        left = still
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return left

