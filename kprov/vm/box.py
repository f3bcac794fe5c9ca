"""Build (or find in the cache) the kprov Debian 12 libvirt box, and register it with Vagrant.

Both stages of kprov.vm.recipe are built under one file lock into a temporary path that is
renamed into place only when complete, so concurrent runs wait for one build and a crash
never leaves a half-built rootfs or box that a later run would trust. A box whose file name
(recipe digest) exists is current; older kprov boxes in the cache are removed when a new one
is made. ``add_box`` registers the box with ``vagrant box add`` only when Vagrant's copy
carries another digest (kprov-box.json travels inside the box), so it is cheap to call
before every ``vagrant up``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kprov.lab.errors import LabError
from kprov.lab.system import file_lock, run
from kprov.vm.image import make_disk, to_qcow2
from kprov.vm.recipe import BOX_NAME, CACHE_DIR, ROOT_LABEL, BoxRecipe, GuestFile

__all__ = ["BoxResult", "add_box", "build_box", "ensure_rootfs", "vagrant_box_dir"]

READY_MARK = ".kprov-rootfs-ready"
DEFAULT_MIRROR = os.environ.get("KPROV_VM_MIRROR", "http://deb.debian.org/debian")
Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


class BoxResult:
    """The box file, whether it was built now, and how long each stage took (seconds)."""

    def __init__(self, path: Path, built: bool, timings: dict[str, float]) -> None:
        self.path = path
        self.built = built
        self.timings = timings


def ensure_rootfs(recipe: BoxRecipe, cache: Path = CACHE_DIR, mirror: str = DEFAULT_MIRROR,
                  progress: Progress = _quiet) -> Path:
    """The rootfs of ``recipe``, built now unless the cache has it."""
    target = recipe.rootfs_dir(cache)
    with file_lock(cache / "rootfs.lock"):
        if (target / READY_MARK).exists():
            return target
        tmp = target.with_name(target.name + ".building")
        if tmp.exists():
            shutil.rmtree(tmp)
        progress(f"mmdebstrap {recipe.suite} into {tmp} (minutes on a busy machine)")
        run(recipe.rootfs_argv(tmp, mirror), timeout=3600)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        (target / READY_MARK).write_text(recipe.rootfs_digest() + "\n")
    return target


def build_box(recipe: BoxRecipe | None = None, cache: Path = CACHE_DIR, mirror: str = DEFAULT_MIRROR,
              force: bool = False, progress: Progress = _quiet) -> BoxResult:
    """The box file of ``recipe`` (default recipe), built unless the cache holds it."""
    recipe = recipe or BoxRecipe()
    box = recipe.box_path(cache)
    timings: dict[str, float] = {}
    cache.mkdir(parents=True, exist_ok=True)
    with file_lock(cache / "box.lock"):
        if box.exists() and not force:
            return BoxResult(box, False, timings)
        start = time.monotonic()
        rootfs = ensure_rootfs(recipe, cache, mirror, progress)
        timings["rootfs_s"] = time.monotonic() - start
        work = cache / "build" / box.stem
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        try:
            start = time.monotonic()
            tree = work / "tree"
            progress(f"copy the rootfs into {tree}")
            run(["cp", "-a", f"{rootfs}/.", str(tree)], timeout=1800)
            _configure_tree(recipe, tree)
            timings["configure_s"] = time.monotonic() - start
            start = time.monotonic()
            progress("make the disk (ext4 + extlinux) and the compressed qcow2")
            make_disk(tree, work / "disk.raw", recipe.disk_gib, ROOT_LABEL)
            shutil.rmtree(tree)
            to_qcow2(work / "disk.raw", work / "box.img")
            (work / "disk.raw").unlink()
            timings["disk_s"] = time.monotonic() - start
            (work / "metadata.json").write_text(json.dumps(recipe.metadata()) + "\n")
            (work / "Vagrantfile").write_text(recipe.box_vagrantfile())
            (work / "kprov-box.json").write_text(json.dumps(recipe.box_info(), indent=2) + "\n")
            tmp_box = box.with_name(box.name + ".tmp")
            run(["tar", "-cf", str(tmp_box), "-C", str(work),
                 "metadata.json", "Vagrantfile", "kprov-box.json", "box.img"], timeout=1800)
            os.replace(tmp_box, box)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for old in cache.glob("kprov-debian12-*.box"):
            if old != box:
                old.unlink()
        return BoxResult(box, True, timings)


def _configure_tree(recipe: BoxRecipe, tree: Path) -> None:
    (tree / READY_MARK).unlink(missing_ok=True)
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise LabError(f"no kernel under {tree}/boot: the rootfs lacks linux-image-amd64")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    initrd = f"initrd.img-{version}"
    if not (tree / "boot" / initrd).exists():
        run(["chroot", str(tree), "update-initramfs", "-c", "-k", version], timeout=1800)
    if "vagrant:" not in (tree / "etc/passwd").read_text():
        run(["chroot", str(tree), "useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
             "vagrant"])
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (tree / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (tree / junk).glob("*"):
            if item.is_file() and item.name != "lock":
                item.unlink()
    for guest_file in recipe.guest_files(f"vmlinuz-{version}", initrd):
        _write(tree, guest_file)
    for unit in recipe.enabled_units:
        run(["systemctl", f"--root={tree}", "enable", unit])
    for unit in recipe.masked_units:
        run(["systemctl", f"--root={tree}", "mask", unit])


def _ids(tree: Path, user: str) -> tuple[int, int]:
    for line in (tree / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise LabError(f"user {user} not in {tree}/etc/passwd")


def _write(tree: Path, guest_file: GuestFile) -> None:
    path = tree / guest_file.path.lstrip("/")
    if path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(guest_file.content)
    path.chmod(guest_file.mode)
    uid, gid = _ids(tree, guest_file.owner)
    os.chown(path, uid, gid)
    home = tree / "home" / guest_file.owner
    # Directories made for a user's file under their home belong to them (~/.ssh: 0700).
    parent = path.parent
    while guest_file.owner != "root" and parent != home and home in parent.parents:
        parent.chmod(0o700)
        os.chown(parent, uid, gid)
        parent = parent.parent


def vagrant_box_dir(name: str = BOX_NAME) -> Path:
    """Where Vagrant keeps the libvirt copy of box ``name`` (version 0: added from a file)."""
    home = Path(os.environ.get("VAGRANT_HOME", Path(pwd.getpwuid(os.getuid()).pw_dir) / ".vagrant.d"))
    return home / "boxes" / name.replace("/", "-VAGRANTSLASH-") / "0" / "libvirt"


def add_box(box: Path, digest: str, name: str = BOX_NAME) -> bool:
    """Register ``box`` with Vagrant as ``name`` unless Vagrant's copy has ``digest``; True if added."""
    info = vagrant_box_dir(name) / "kprov-box.json"
    try:
        if json.loads(info.read_text()).get("digest") == digest:
            return False
    except (OSError, ValueError):
        pass
    run(["vagrant", "box", "add", "--force", "--name", name, str(box)], timeout=1800)
    return True
