"""fsGroup: a pod's volumes owned by its fsGroup, as upstream's kubelet sets them.

With ``spec.securityContext.fsGroup`` set, every file and directory of the pod's emptyDir,
configMap, secret, downwardAPI and projected volumes gets that group, group read (and
write, for the writable emptyDir) permission, and directories the setgid bit plus search
permission, so what processes create later inherits the group. The containers' processes
carry fsGroup among their supplementary groups (:mod:`..pods.podconfig`). Symlinks (the atomic
writer's ``..data`` links) are left alone; nothing is chmod-ed or chown-ed that is already
right, so a resync costs one ``lstat`` per entry. hostPath volumes are never touched
(upstream leaves them too). ``fsGroupChangePolicy: OnRootMismatch`` skips the walk when the
volume's root already has the group, the setgid bit and the permission bits (upstream's
test), so a large volume costs one ``stat``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["fs_group", "fs_group_change_policy", "root_matches", "set_volume_ownership"]

_RW_MASK, _RO_MASK, _EXEC_MASK = 0o660, 0o440, 0o110


def fs_group(pod: Mapping[str, Any]) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return int(value) if value is not None else None


def fs_group_change_policy(pod: Mapping[str, Any]) -> str:
    sc = (pod.get("spec") or {}).get("securityContext") or {}
    return str(sc.get("fsGroupChangePolicy") or "Always")


def root_matches(directory: Path, group: int, readonly: bool) -> bool:
    """Whether the volume's root is already the group's (OnRootMismatch's test)."""
    info = os.stat(directory)
    mask = _RO_MASK if readonly else _RW_MASK
    return info.st_gid == group and bool(info.st_mode & stat.S_ISGID) and info.st_mode & mask == mask


def _fix(path: str, group: int, mask: int) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return
    if info.st_gid != group:
        os.lchown(path, -1, group)
    if stat.S_ISDIR(info.st_mode):
        mask |= stat.S_ISGID | _EXEC_MASK
    mode = stat.S_IMODE(info.st_mode)
    if mode | mask != mode:
        os.chmod(path, mode | mask)


def set_volume_ownership(directory: Path, group: int, readonly: bool, policy: str = "Always") -> None:
    """Give ``directory`` and everything under it to ``group`` (upstream's masks); with the
    OnRootMismatch policy only when the root is not the group's yet."""
    if policy == "OnRootMismatch" and root_matches(directory, group, readonly):
        return
    mask = _RO_MASK if readonly else _RW_MASK
    _fix(str(directory), group, mask)
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files]:
            _fix(os.path.join(root, name), group, mask)
