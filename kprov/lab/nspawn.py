"""The systemd-nspawn command line of a host, and the fixes applied to a running one.

Each flag clears a known failure (see LAB.md): no machined on this machine (--register=no,
--keep-unit), an externally made network namespace (--network-namespace-path, which drops
CAP_NET_ADMIN unless --capability=all), containerd's session keyrings (keyctl syscalls), an
overlay-free /var/lib/containerd, writable per-netns sysctls (env
SYSTEMD_NSPAWN_API_VFS_WRITABLE=network), pods' seccomp profiles as on a real host (env
SYSTEMD_SECCOMP=0: no nspawn filter under them). nspawn mounts the cgroup-v1 controllers read-only;
``writable_cgroups_command`` remounts them from outside once the host's init runs.
"""

from __future__ import annotations

from pathlib import Path

from kprov.lab.cgroups import V1_CONTROLLERS
from kprov.lab.layout import LabLayout

__all__ = ["NSPAWN_ENV", "REBOOT_EXIT_CODE", "nspawn_command", "writable_cgroups_command"]

REBOOT_EXIT_CODE = 133
# SYSTEMD_SECCOMP=0: no nspawn seccomp filter on the host's processes, as on a real machine;
# under it every container ran filtered, so a pod asking for Unconfined still showed
# "Seccomp: 2" (two e2e specs), and RuntimeDefault could not be told apart from it. The hosts
# keep --capability=all either way, which already allows what the filter would refuse.
NSPAWN_ENV = {"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network", "SYSTEMD_SECCOMP": "0"}
MODULES_DIR = Path("/lib/modules")


def nspawn_command(layout: LabLayout, host: str, modules_dir: Path = MODULES_DIR) -> list[str]:
    argv = [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--console=passive",
        f"--machine={host}",
        f"--directory={layout.merged(host)}",
        f"--network-namespace-path={layout.netns_path(host)}",
        "--capability=all",
        "--system-call-filter=keyctl add_key request_key",
        "--resolv-conf=off",
        "--timezone=off",
        f"--bind={layout.containerd_dir(host)}:/var/lib/containerd",
    ]
    if modules_dir.is_dir():
        argv.append(f"--bind-ro={modules_dir}")
    return argv


def writable_cgroups_command(leader_pid: int) -> list[str]:
    remounts = "; ".join(
        f"mount -o remount,bind,rw /sys/fs/cgroup/{c} 2>/dev/null" for c in V1_CONTROLLERS
    )
    return ["nsenter", "-t", str(leader_pid), "-m", "sh", "-c", remounts + "; true"]
