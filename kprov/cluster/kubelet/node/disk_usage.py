"""What a pod's containers and emptyDirs use of the node's disk, measured on the node.

A container's writable layer is the upper directory of its overlay root file system:
containerd mounts it at ``/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/
rootfs``, and the node's mount table names the upper directory in the mount's options. Its
logs are the files under its CRI log path. An emptyDir that is not memory-backed is its
directory under the pod's volumes. Sizes are allocated blocks (as ``du``), so a file made
by ``fallocate`` counts at once. Files are walked, not stat'ed through the runtime: CRI's
ContainerStats carries the writable layer's size only where the runtime computes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["ROOTFS_MOUNTS", "dir_bytes", "upper_dirs"]

ROOTFS_MOUNTS = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"


def upper_dirs(mountinfo: str, prefix: str = ROOTFS_MOUNTS) -> Mapping[str, str]:
    """Container id -> its overlay upper directory, from a ``/proc/<pid>/mountinfo`` text."""
    found: dict[str, str] = {}
    for line in mountinfo.splitlines():
        head, _, tail = line.partition(" - ")
        fields = head.split()
        if len(fields) < 5 or not fields[4].startswith(prefix) or not fields[4].endswith("/rootfs"):
            continue
        container_id = fields[4][len(prefix):-len("/rootfs")]
        options = tail.split()[2] if len(tail.split()) >= 3 else ""
        for option in options.split(","):
            if option.startswith("upperdir="):
                found[container_id] = option[len("upperdir="):]
    return found


def dir_bytes(paths: Iterable[str | Path]) -> int:
    """Blocks allocated under ``paths`` (files and directories, not following links), in bytes;
    a path that is gone counts nothing."""
    total = 0
    for path in paths:
        try:
            top = os.lstat(path)
        except OSError:
            continue
        total += top.st_blocks * 512
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        for root, dirs, files in os.walk(path, onerror=lambda _err: None):
            for name in (*dirs, *files):
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    continue
    return total
