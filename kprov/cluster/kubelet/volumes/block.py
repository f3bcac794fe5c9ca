"""Local PersistentVolumes on block devices, as upstream's local volume plugin serves them.

A ``local`` volume whose path is a block device is used in one of two ways, by the
volume's ``volumeMode``:

- ``Filesystem`` (the default): the device is formatted with ``fsType`` (ext4 when unset)
  if it holds no filesystem yet (``blkid -p`` finds no signature; one it finds is never
  overwritten), and mounted on the pod's volume directory,
  ``<root>/pods/<uid>/volumes/kubernetes.io~local-volume/<name>``. Two pods of a node using
  the same volume each mount it (one superblock, as a bind would share); the mounts go with
  the pod's volumes (:func:`~.pod_volumes.remove_pod_volumes` unmounts everything under the
  pod's directory).
- ``Block``: the device itself is handed to the containers that list the claim in
  ``volumeDevices``, at their ``devicePath`` (a CRI device, read-write unless the claim is
  mounted read-only).

A volume used the other way (a Block volume in ``volumeMounts``, a Filesystem one in
``volumeDevices``) stops the container with a configuration error, as upstream's
volume-mode checks do.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

__all__ = ["BlockVolumeError", "format_and_mount", "is_block_device"]

DEFAULT_FS_TYPE = "ext4"  # upstream's local volume plugin formats with ext4 when fsType is unset


class BlockVolumeError(Exception):
    pass


def is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def _filesystem_of(device: str) -> str:
    """The filesystem type on ``device`` ("" for none). blkid exits 2 when it finds nothing."""
    done = _run(["blkid", "-p", "-s", "TYPE", "-o", "value", device])
    if done.returncode == 2:
        return ""
    if done.returncode != 0:
        raise BlockVolumeError(f"blkid {device}: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def format_and_mount(device: str, directory: Path, fs_type: str = "", *, readonly: bool = False) -> None:
    """Mount ``device`` on ``directory`` (made if missing), formatting it first with
    ``fs_type`` when it holds no filesystem; nothing to do when it is mounted there already."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(directory):
        return
    found = _filesystem_of(device)
    wanted = fs_type or found or DEFAULT_FS_TYPE
    if not found:
        done = _run([f"mkfs.{wanted}", *(["-F"] if wanted.startswith("ext") else []), "-q", device])
        if done.returncode != 0:
            raise BlockVolumeError(f"formatting {device} as {wanted} failed: {done.stderr.strip()}")
    elif fs_type and found != fs_type:
        raise BlockVolumeError(
            f"{device} holds a filesystem of type {found}, not the volume's fsType {fs_type}: not reformatted"
        )
    options = ["-o", "ro"] if readonly else []
    done = _run(["mount", "-t", wanted, *options, device, str(directory)])
    if done.returncode != 0:
        raise BlockVolumeError(f"mounting {device} on {directory} failed: {done.stderr.strip()}")
