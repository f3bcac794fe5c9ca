"""Waiting, after a lab's hosts were deleted, until their disk allocates inodes at full speed.

All lab hosts keep their files on the machine's one file system. On an ext4 without a journal
(this machine's root: no /proc/fs/jbd2 entry), the inode allocator skips every inode deleted
in the last 60 s, or 360 s while its inode-table block is dirty (fs/ext4/ialloc.c:
``recently_deleted``, RECENTCY_MIN + RECENTCY_DIRTY), looking each candidate up in the buffer
cache. Right after ``lab.wipe()`` deleted the previous hosts (hundreds of thousands of
files), every file a fresh host creates pays that scan: 20 hosts unpacking kprov's runtime
(5,711 files each) at once took 106 CPU-s one minute after a deletion and 30 CPU-s on a disk
without recent deletions (perf: ``find_get_block_common``, ``recently_deleted`` and
``ext4_get_group_desc`` on top). Real hosts each have their own disk and no previous hosts'
deletions, so a cold apply is timed on a disk out of that window; the benches print the wait.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["RECENTLY_DELETED_S", "journalless_ext4", "wait_for_fresh_disk"]

RECENTLY_DELETED_S = 360.0


def journalless_ext4(path: Path) -> bool:
    """Whether ``path`` lives on an ext4 file system mounted without a journal."""
    dev = path.stat().st_dev
    name = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve().name
    if not Path(f"/proc/fs/ext4/{name}").is_dir():
        return False
    return not any(Path("/proc/fs/jbd2").glob(f"{name}-*"))


def wait_for_fresh_disk(path: Path, deleted_at: float, max_wait_s: float = RECENTLY_DELETED_S) -> float:
    """Sleep until ``RECENTLY_DELETED_S`` after ``deleted_at`` (time.monotonic()) when ``path``
    is on a journal-less ext4, at most ``max_wait_s``; return the seconds slept."""
    if max_wait_s <= 0 or not journalless_ext4(path):
        return 0.0
    wait = min(max(deleted_at + RECENTLY_DELETED_S - time.monotonic(), 0.0), max_wait_s)
    time.sleep(wait)
    return wait
