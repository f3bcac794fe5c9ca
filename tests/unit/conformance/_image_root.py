"""Write an image's files (kprov.images.oci.FileEntry) out as a directory tree, for chroot tests."""

from __future__ import annotations

from pathlib import Path

from kprov.images.oci import FileEntry

__all__ = ["write_root"]


def write_root(files: list[FileEntry], root: Path) -> None:
    for entry in files:
        target = root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_dir:
            target.mkdir(exist_ok=True)
        elif entry.symlink_to is not None:
            target.symlink_to(entry.symlink_to)
        else:
            target.write_bytes(entry.data or b"")
            target.chmod(entry.mode)
