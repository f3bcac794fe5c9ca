"""Thin, checked access to the machine: commands, root, tools, disk space, locks, pids.

Every failure becomes a LabError that names what failed and what to do about it; nothing
here knows about hosts or instances.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from kprov.lab.errors import LabError

__all__ = [
    "REQUIRED_TOOLS",
    "ensure_free_space",
    "ensure_tools",
    "file_lock",
    "mount_points",
    "pid_alive",
    "raise_sysctl",
    "read_pid",
    "require_root",
    "run",
    "wait_pid_gone",
]

# tool on PATH -> the Debian package that provides it
REQUIRED_TOOLS: Mapping[str, str] = {
    "mmdebstrap": "mmdebstrap",
    "systemd-nspawn": "systemd-container",
    "iptables": "iptables",
    "apt-ftparchive": "apt-utils",
    "busybox": "busybox-static",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "ssh": "openssh-client",
}


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    input_text: str | None = None,
    timeout: float | None = 600,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; on failure raise LabError with its stderr."""
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {args[0]} (install the package that provides it)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(args)}` did not finish within {timeout} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise LabError(f"`{' '.join(args)}` failed (exit {proc.returncode}):\n  " + "\n  ".join(detail))
    return proc


def require_root(action: str = "kprov lab") -> None:
    if os.geteuid() != 0:
        raise LabError(f"{action} must run as root (it mounts, creates network namespaces and cgroups): "
                       "run it with sudo")


def ensure_tools(tools: Mapping[str, str] = REQUIRED_TOOLS) -> list[str]:
    """Install (apt-get) the packages of missing tools; returns the packages installed."""
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if not missing:
        return []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if run(install, check=False, env=env).returncode != 0:
        run(["apt-get", "update", "-q"], check=False, env=env)
        if run(install, check=False, env=env).returncode != 0:
            raise LabError("kprov lab needs these Debian packages and could not install them: "
                           f"{' '.join(missing)}. Install them with: apt-get install {' '.join(missing)}")
    return missing


def ensure_free_space(path: Path, needed_bytes: int) -> None:
    """Fail with the amount needed when the filesystem holding ``path`` is too full."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    stat = os.statvfs(probe)
    free = stat.f_bavail * stat.f_frsize
    if free < needed_bytes:
        raise LabError(f"not enough free disk space on the filesystem of {probe}: "
                       f"{needed_bytes / 2**20:.0f} MiB needed, {free / 2**20:.0f} MiB free. "
                       "Free some space (or run `kprov lab wipe` on unused instances) and retry.")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive fcntl.flock on ``path`` (created if missing) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_pid(pidfile: Path) -> int | None:
    """The pid recorded in ``pidfile`` if that process is still alive."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_pid_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def raise_sysctl(name: str, minimum: int) -> None:
    """Raise a machine sysctl (dotted name) to at least ``minimum``; never lower it."""
    path = Path("/proc/sys") / name.replace(".", "/")
    if int(path.read_text().split()[0]) < minimum:
        path.write_text(f"{minimum}\n")


def _unescape_mount_field(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount_points() -> list[str]:
    """Mount points of this process' mount namespace, from /proc/self/mountinfo."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [_unescape_mount_field(line.split()[4]) for line in lines if line.strip()]
