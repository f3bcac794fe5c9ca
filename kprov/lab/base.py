"""The shared base image: one Debian rootfs, the lower layer of every host.

Made by mmdebstrap (minbase, merged /usr as debootstrap makes it): it fetches the packages
with apt, in parallel, where debootstrap fetches them one after another, which is most of a
fresh machine's first `kprov lab up` (decision 0034 has the figures).

Built once under a file lock (two instances starting at once wait for one build), into a
temporary directory that is renamed into place only when complete, so a crash never leaves a
half-built base that later runs would trust. Everything host-specific (machine-id, host
keys, hostname, apt sources, authorized key) is written per host, never into the base.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kprov.lab.system import file_lock, run

__all__ = ["BASE_PACKAGES", "BASE_READY_MARK", "DEBIAN_MIRROR", "DEBIAN_SUITE", "base_ready", "build_base",
           "rootfs_argv"]

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("KPROV_LAB_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES: tuple[str, ...] = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iputils-ping", "procps",
    "python3", "ca-certificates", "curl", "kmod", "netbase", "less",
)
BASE_READY_MARK = ".kprov-base-ready"
# mmdebstrap's own hooks: /bin, /lib and /sbin as links into /usr with usr-is-merged, as
# debootstrap makes a bookworm rootfs (without them apt picks usrmerge, and perl with it)
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
BASE_SIZE_BYTES = 450 * 2**20
# units that only make noise (or fail) in a container without consoles or timers that matter
MASKED_UNITS: tuple[str, ...] = (
    "getty@tty1.service", "console-getty.service", "apt-daily.timer", "apt-daily-upgrade.timer",
    "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "systemd-pstore.service",
)


def rootfs_argv(suite: str, variant: str, packages: tuple[str, ...], target: Path | str,
                mirror: str) -> list[str]:
    """The command that makes a Debian rootfs at ``target`` (the lab's base, a VM box's root)."""
    return ["mmdebstrap", f"--variant={variant}", f"--hook-dir={MERGED_USR_HOOKS}",
            # keep dpkg's and apt's logs as an installed system has them (mmdebstrap removes
            # them for reproducible images): a host reset is compared against this root
            "--skip=cleanup/reproducible",
            f"--include={','.join(packages)}", suite, str(target), mirror]


def base_ready(base: Path) -> bool:
    return (base / BASE_READY_MARK).exists()


def build_base(base: Path) -> bool:
    """Build the base at ``base`` unless it is already there; True if it was built now."""
    with file_lock(base.with_name(base.name + ".lock")):
        if base_ready(base):
            return False
        tmp = base.with_name(base.name + ".building")
        if tmp.exists():
            shutil.rmtree(tmp)
        run(rootfs_argv(DEBIAN_SUITE, "minbase", BASE_PACKAGES, tmp, DEBIAN_MIRROR), timeout=1800)
        _prepare(tmp)
        if base.exists():
            shutil.rmtree(base)
        os.replace(tmp, base)
        (base / BASE_READY_MARK).write_text("ok\n")
        return True


def _prepare(root: Path) -> None:
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.is_symlink() or dbus_id.exists():
        dbus_id.unlink()
    dbus_id.symlink_to("/etc/machine-id")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()
    (root / "etc/apt/sources.list").write_text("# written per host by kprov lab\n")
    units = root / "etc/systemd/system"
    for unit in MASKED_UNITS:
        link = units / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("/dev/null")
