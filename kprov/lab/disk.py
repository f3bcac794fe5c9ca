"""A host's disk: an overlayfs (shared base below, the host's own upper dir on top).

Identity files are written once, at creation (machine-id, sshd host keys, and the resolver
configuration, which a host's roles may change afterwards). Files that derive
from the instance (hostname, /etc/hosts, apt sources, authorized key, the loop-device unit of
:mod:`kprov.lab.loopdev`) are rewritten before
every start, so a host always matches its instance even though the base is shared.
The lab has no DNS resolver: a host's resolv.conf names its own loopback, where nothing
listens, so a lookup of a name /etc/hosts does not hold fails at once (a refused query), as
on a network whose resolver answers "no such name". The base image's copy names the build
machine's resolver, which lab hosts must never reach; packets to it were dropped, and every
such lookup waited out its timeouts (glibc: 5 s a try, two tries a family), which daemons
that look up their own name at start (exim, squid) pay at each restart.
dpkg on a lab host unpacks without syncing each file (`force-unsafe-io`, as Debian's own
container images set it): a lab host is a throwaway and is rebuilt, never recovered, after a
crash of the machine, and on this machine's disk a sync costs milliseconds, so package installs,
most of a cold run's time on a lab host, were bound by dpkg's per-file syncs (decision 0034).
/var/lib/containerd is a plain directory of the machine's filesystem bound into the host,
because overlayfs cannot be the upper layer of containerd's own overlay mounts.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from kprov.lab.bundle import apt_source_line
from kprov.lab.keys import host_key_files, public_key_line
from kprov.lab.layout import LabLayout
from kprov.lab.loopdev import DEVICES_UNIT, DEVICES_UNIT_NAME, TMPFILES_PATH, tmpfiles_lines
from kprov.lab.system import mount_points, run

__all__ = ["create_disk", "disk_exists", "disk_mounted", "mount_disk", "unmount_disk", "write_instance_files"]

LAB_RESOLV_CONF = (
    "# kprov lab: no resolver in the lab; loopback refuses at once (names are in /etc/hosts)\n"
    "nameserver 127.0.0.1\n"
)
APT_LAB_CONF = (
    '// kprov lab: the local bundle has no recommended extras\nAPT::Install-Recommends "false";\n'
)
DPKG_LAB_CONF = "# kprov lab: a throwaway host; dpkg need not sync each unpacked file\nforce-unsafe-io\n"


def disk_exists(layout: LabLayout, host: str) -> bool:
    return (layout.upper(host) / "etc/machine-id").exists()


def disk_mounted(layout: LabLayout, host: str) -> bool:
    return str(layout.merged(host)) in mount_points()


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".kprov-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def create_disk(layout: LabLayout, host: str) -> None:
    """Directories and identity (machine-id, host keys) of a new host."""
    for path in (layout.upper(host), layout.workdir(host), layout.merged(host), layout.containerd_dir(host)):
        path.mkdir(parents=True, exist_ok=True)
    upper = layout.upper(host)
    for name, (private, public) in host_key_files(host).items():
        _write(upper / "etc/ssh" / name, private, 0o600)
        _write(upper / "etc/ssh" / f"{name}.pub", public)
    _write(upper / "etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    _write(upper / "etc/resolv.conf", LAB_RESOLV_CONF)


def mount_disk(layout: LabLayout, host: str) -> None:
    if disk_mounted(layout, host):
        return
    options = f"lowerdir={layout.base},upperdir={layout.upper(host)},workdir={layout.workdir(host)}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, layout.merged(host)])


def unmount_disk(layout: LabLayout, host: str) -> None:
    if disk_mounted(layout, host) and run(["umount", layout.merged(host)], check=False).returncode != 0:
        run(["umount", "-l", layout.merged(host)])


def write_instance_files(layout: LabLayout, host: str) -> None:
    """Files that follow from the instance, rewritten before each start.

    Written into the upper dir with the overlay unmounted, then mounted again: writing into
    the upper dir behind a mounted overlayfs is undefined, and a host restarted that way
    failed renames over those files with ESTALE ("Stale file handle": apt's sources.list
    under `kprov apply`). A fresh mount also clears a mount that went stale before.
    """
    mounted = disk_mounted(layout, host)
    if mounted:
        unmount_disk(layout, host)
    upper = layout.upper(host)
    _write(upper / "etc/hostname", host + "\n")
    _write(upper / "etc/hosts", layout.etc_hosts())
    _write(upper / "etc/apt/sources.list", apt_source_line(layout.repo_url))
    _write(upper / "etc/apt/apt.conf.d/90kprov-lab", APT_LAB_CONF)
    _write(upper / "etc/dpkg/dpkg.cfg.d/90kprov-lab", DPKG_LAB_CONF)
    _write(upper / "root/.ssh/authorized_keys", public_key_line(layout.key_path), 0o600)
    os.chmod(upper / "root/.ssh", 0o700)
    _write(upper / TMPFILES_PATH, tmpfiles_lines())
    _write(upper / "etc/systemd/system" / DEVICES_UNIT_NAME, DEVICES_UNIT)
    wants = upper / "etc/systemd/system/sysinit.target.wants" / DEVICES_UNIT_NAME
    if not wants.is_symlink():
        wants.parent.mkdir(parents=True, exist_ok=True)
        wants.symlink_to(f"/etc/systemd/system/{DEVICES_UNIT_NAME}")
    if mounted:
        mount_disk(layout, host)
