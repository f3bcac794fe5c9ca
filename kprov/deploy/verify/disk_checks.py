"""Room on the filesystem under an etcd member's data directory.

A member whose disk is full cannot cut its next WAL segment (etcd preallocates each one,
64 MiB) nor grow its backend: it stops with ``no space left on device`` and systemd restarts
it into the same wall, or it raises the NOSPACE alarm, which makes the whole cluster
read-only until someone disarms it. The quorum's other members keep serving meanwhile, so
nothing else in verify says *why* this member is unhealthy: this row does. One ``df`` per
etcd host (the data directory as the etcd role writes it, or the inventory's
``etcd_data_dir``); ``parse_df`` is pure so tests can feed it text.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.deploy.verify.report import Check

__all__ = ["ETCD_DATA_DIR", "MIN_FREE_BYTES", "df_command", "etcd_disk_check", "parse_df"]

ETCD_DATA_DIR = "/var/lib/kprov/etcd"  # roles/etcd/defaults/main.yml
WAL_SEGMENT_BYTES = 64 * 1024 * 1024
MIN_FREE_BYTES = WAL_SEGMENT_BYTES  # room for the next WAL segment at least
_MIB = 1024 * 1024


def df_command(path: str) -> str:
    # the data directory may not exist yet on a fresh host: its nearest existing parent counts
    quoted = shlex.quote(path)
    return (f"p={quoted}; while [ ! -e \"$p\" ] && [ \"$p\" != / ]; do p=$(dirname \"$p\"); done; "
            "df -P -B1 \"$p\"")


def parse_df(text: str) -> tuple[str, int, int, str] | None:
    """(filesystem, size, available bytes, mount point) from ``df -P -B1`` output, or None."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    fields = lines[-1].split()
    if len(fields) < 6 or not fields[1].isdigit() or not fields[3].isdigit():
        return None
    return fields[0], int(fields[1]), int(fields[3]), fields[5]


def etcd_disk_check(name: str, host_vars: Mapping[str, Any], run: Any) -> Check:
    """The row for one etcd host; ``run(command)`` returns the command's stdout."""
    path = str(host_vars.get("etcd_data_dir", ETCD_DATA_DIR))
    title = f"etcd data directory {path} has free space"
    parsed = parse_df(str(run(df_command(path))))
    if parsed is None:
        return Check(name, title, False, f"df gave no answer for {path}")
    device, size, available, mount = parsed
    if available >= MIN_FREE_BYTES:
        return Check(name, title, True, f"{available // _MIB} MiB free on {mount}")
    return Check(name, title, False,
                 f"{available // _MIB} MiB free of {size // _MIB} MiB on {mount} ({device}): the etcd "
                 f"member on {name} needs room for its next {WAL_SEGMENT_BYTES // _MIB} MiB WAL segment "
                 "and its database; it fails with 'no space left on device' or raises the NOSPACE alarm. "
                 "Free space there, then run `etcdctl alarm disarm` if `etcdctl alarm list` shows NOSPACE")
