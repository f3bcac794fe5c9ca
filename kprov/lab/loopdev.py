"""Loop devices for lab hosts, as a real machine has them.

systemd-nspawn gives a host a /dev of its own with a few character devices and no loop
devices, so `losetup` (local block volumes, disk images) failed there where it works on any
real node. Loop devices belong to the machine's kernel, not to a namespace: a host sees
them through device nodes, which a unit written into every host
(:data:`DEVICES_UNIT`, run before sysinit.target) creates at boot from a tmpfiles.d list
(:func:`tmpfiles_lines`): /dev/loop-control and /dev/loop0..N. `losetup -f` then gets a
free device from the kernel, as on a real host.

Because they are the machine's, a device a host attached outlives the host: when a host
stops, :func:`detach_backed_by` detaches every loop device whose backing file lies on one of
the host's own filesystems (:func:`own_filesystems`: those mounted in its mount namespace and
not in the machine's, such as its /tmp, plus its root overlay), as a machine's power-off
would. A device backed by a file of the machine's own filesystems is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

__all__ = ["DEVICES_UNIT", "DEVICES_UNIT_NAME", "LOOP_DEVICES", "TMPFILES_PATH", "detach_backed_by",
           "only_theirs", "own_filesystems", "tmpfiles_lines"]

LOOP_DEVICES = 64  # /dev/loop0..63: more than a host's specs or images attach at once
# in a directory every host has (a new entry in /etc itself would differ from the base)
TMPFILES_PATH = "etc/systemd/lab-loop-devices.conf"
DEVICES_UNIT_NAME = "lab-loop-devices.service"
DEVICES_UNIT = f"""[Unit]
Description=kprov lab: the machine's loop devices in this host's /dev
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/systemd-tmpfiles --create /{TMPFILES_PATH}

[Install]
WantedBy=sysinit.target
"""


def tmpfiles_lines(count: int = LOOP_DEVICES) -> str:
    """The tmpfiles.d lines for /dev/loop-control (10:237) and /dev/loop0..count-1 (7:N)."""
    lines = ["# written by kprov lab: the machine's loop devices (nspawn's /dev has none)",
             "c /dev/loop-control 0600 root root - 10:237"]
    lines += [f"b /dev/loop{n} 0660 root disk - 7:{n}" for n in range(count)]
    return "\n".join(lines) + "\n"


def _devices(mountinfo: str) -> set[int]:
    found = set()
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 2 and ":" in fields[2]:
            major, _, minor = fields[2].partition(":")
            if major.isdigit() and minor.isdigit():
                found.add(os.makedev(int(major), int(minor)))
    return found


def own_filesystems(leader_pid: int, root_device: int) -> set[int]:
    """The device numbers of the filesystems only the host has: mounted in the mount
    namespace of its init (``leader_pid``) but not in the machine's, and its root
    (``root_device``, the overlay the machine mounted for it). Empty if it is gone."""
    try:
        theirs = Path(f"/proc/{leader_pid}/mountinfo").read_text(encoding="utf-8")
        ours = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    return only_theirs(theirs, ours, root_device)


def only_theirs(host_mountinfo: str, machine_mountinfo: str, root_device: int) -> set[int]:
    """:func:`own_filesystems` from the two mount tables' texts."""
    return (_devices(host_mountinfo) - _devices(machine_mountinfo)) | {root_device}


def _attached() -> list[tuple[str, int]]:
    """(device, backing file's device number) of every attached loop device."""
    done = subprocess.run(["losetup", "--json", "--output", "NAME,BACK-MAJ:MIN"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return []
    found = []
    for entry in json.loads(done.stdout).get("loopdevices") or []:
        major, _, minor = str(entry.get("back-maj:min") or "").strip().partition(":")
        if major.isdigit() and minor.isdigit():
            found.append((str(entry["name"]), os.makedev(int(major), int(minor))))
    return found


def detach_backed_by(devices: set[int]) -> list[str]:
    """Detach the loop devices whose backing file is on one of the filesystems ``devices``
    (``st_dev`` numbers); the names detached."""
    detached = []
    for name, backing in _attached() if devices else ():
        if backing in devices and subprocess.run(["losetup", "-d", name], capture_output=True,
                                                check=False).returncode == 0:
            detached.append(name)
    return detached
