"""A bootable disk from a directory tree, without udev and without mounting to copy files.

The machine has no udev, so ``losetup -P`` makes no partition devices. Instead: a sparse
raw file with one MBR partition at 1 MiB; ``mke2fs -E offset= -d TREE`` writes the ext4
file system with the tree's files straight into that partition (no mount, no copy through
the kernel); the file system is then loop-mounted at the same offset only for
``extlinux --install`` (which needs a mounted ext4), after checking it really is a mount
point — on a plain directory extlinux would write to the machine's own root device. Last,
syslinux's MBR code goes into the first 440 bytes, and ``qemu-img convert -c`` makes the
compressed qcow2 a Vagrant box carries.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kprov.lab.errors import LabError
from kprov.lab.system import run

__all__ = ["PARTITION_OFFSET", "make_disk", "to_qcow2"]

PARTITION_OFFSET = 1 << 20
MBR_CODE = (Path("/usr/lib/syslinux/mbr/mbr.bin"), Path("/usr/lib/EXTLINUX/mbr.bin"))


def make_disk(tree: Path, raw: Path, size_gib: int, label: str) -> None:
    """Write ``raw``: an MBR disk of ``size_gib`` GiB whose one ext4 partition holds ``tree``."""
    size = size_gib << 30
    with open(raw, "wb") as handle:
        handle.truncate(size)
    run(["sfdisk", "--no-reread", "--no-tell-kernel", str(raw)],
        input_text=f"label: dos\nstart={PARTITION_OFFSET // 512}, type=83, bootable\n")
    fs_kib = (size - PARTITION_OFFSET) // 1024
    # ^64bit: syslinux reads ext4 but not every feature of today's mke2fs defaults.
    run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-O", "^64bit",
         "-E", f"offset={PARTITION_OFFSET}", "-d", str(tree), str(raw), f"{fs_kib}k"], timeout=1800)
    _install_extlinux(raw)
    mbr = next((p for p in MBR_CODE if p.is_file()), None)
    if mbr is None:
        raise LabError("syslinux's mbr.bin not found: apt-get install syslinux-common extlinux")
    with open(raw, "r+b") as handle:
        handle.write(mbr.read_bytes()[:440])


def _install_extlinux(raw: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="kprov-vm-mnt-") as mnt:
        run(["mount", "-o", f"loop,offset={PARTITION_OFFSET}", str(raw), mnt])
        try:
            if not os.path.ismount(mnt):
                raise LabError(f"{mnt} is not a mount point after mounting {raw}: not installing extlinux")
            run(["extlinux", "--install", os.path.join(mnt, "boot/extlinux")])
        finally:
            run(["umount", mnt], check=False)


def to_qcow2(raw: Path, qcow2: Path) -> None:
    run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(qcow2)], timeout=1800)
