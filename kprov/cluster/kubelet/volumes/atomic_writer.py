"""Volume contents swapped atomically, in the layout upstream's kubelet uses.

A volume directory holds a timestamped data directory (``..2024_01_02_03_04_05.123456789``),
the symlink ``..data`` pointing at it, and for every top-level entry of the payload a
symlink ``name -> ..data/name``. An update writes a new data directory, then renames a new
``..data`` symlink over the old one (one rename: readers see the old set of files or the new
one, never a mix - what lets a process re-read a refreshed token or a changed ConfigMap
safely), then fixes the top-level symlinks and removes the old data directory. Unchanged
content is not rewritten.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["DATA_DIR_NAME", "write_atomic"]

DATA_DIR_NAME = "..data"
_TMP_LINK = "..data_tmp"

Payload = dict[str, tuple[bytes, int]]


def _check(rel: str) -> Path:
    path = Path(rel)
    if not rel or path.is_absolute() or ".." in path.parts or rel.startswith(".."):
        raise ValueError(f"volume file path {rel!r} must be relative without '..'")
    return path


def _current(directory: Path) -> Payload | None:
    data = directory / DATA_DIR_NAME
    if not data.is_symlink():
        return None
    found: Payload = {}
    base = data.resolve()
    for path in base.rglob("*"):
        if path.is_file():
            found[str(path.relative_to(base))] = (path.read_bytes(), path.stat().st_mode & 0o7777)
    return found


def write_atomic(directory: Path, payload: Payload, owners: dict[str, int] | None = None) -> bool:
    """Make ``directory`` hold exactly ``payload`` (relative path -> (content, mode)), the
    files named in ``owners`` owned by that user (a ServiceAccount token for the pod's
    runAsUser); True when something changed."""
    owners = owners or {}
    for rel in payload:
        _check(rel)
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {rel: (content, mode & 0o7777) for rel, (content, mode) in payload.items()}
    if _current(directory) == wanted:
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
    new_dir = directory / stamp
    new_dir.mkdir(mode=0o755)
    for rel, (content, mode) in wanted.items():
        target = new_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.write_bytes(content)
        os.chmod(target, mode)
        if rel in owners:
            os.chown(target, owners[rel], -1)
    old_link = directory / DATA_DIR_NAME
    old_dir = Path(os.readlink(old_link)).name if old_link.is_symlink() else None
    tmp_link = directory / _TMP_LINK
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, old_link)
    tops = {Path(rel).parts[0] for rel in wanted}
    for top in tops:
        link = directory / top
        if link.is_symlink() and os.readlink(link) == f"{DATA_DIR_NAME}/{top}":
            continue
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        elif link.exists() or link.is_symlink():
            link.unlink()
        os.symlink(f"{DATA_DIR_NAME}/{top}", link)
    for entry in directory.iterdir():
        name = entry.name
        if name in tops or name in (DATA_DIR_NAME, stamp):
            continue
        if name.startswith(".."):
            if name == old_dir or entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if entry.is_symlink() or entry.is_file():  # a key no longer in the payload (or older layout)
            entry.unlink()
        elif entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    return True
