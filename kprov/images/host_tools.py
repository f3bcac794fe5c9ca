"""Tools from this machine put into image roots (the stand-ins' and the conformance suite's),
where busybox falls short.

- ``/bin/sh`` becomes upstream BusyBox's ash, built by ``.ci/build-busybox-ash``: Debian's
  busybox reverts upstream's change that passes variables whose names are not shell
  identifiers on to children, so a container's ``sh -c env`` would never show ``p-data-1``
  from an ``envFrom`` with a prefix. bash keeps them but words its errors its own way
  (``line 1: /file: Read-only file system``), where the suite expects BusyBox's
  (``can't create /file: Read-only file system``); upstream's ash does both, as the
  suite's own busybox image does.
- the agnhost image's own tools, which busybox lacks or cuts short: ``dig`` and ``getent``
  (packages bind9-dnsutils, libc-bin; the DNS probes run ``dig +search ... A`` over UDP
  and TCP and ``getent hosts``), ``curl`` (the service and proxy tests fetch with it) and
  OpenBSD ``nc`` (netcat-openbsd: the reachability checks run ``nc -v -z -w 2``; Debian's
  busybox nc has neither -z nor -v), and util-linux ``nsenter``: the suite's hostexec pods
  run node commands as ``nsenter --mount=/rootfs/proc/1/ns/mnt -- sh -c ...``, and
  busybox's nsenter (its shell standalone, applets preferred) ran ``sh`` and every command
  in it as its own applets, so ``losetup`` printed busybox's usage on the node instead of
  its devices (the local block-volume specs). They are dynamically linked, so each comes with the
  shared objects ``ldd`` names for it (the loader included), at the same paths as here,
  and an nsswitch.conf that asks /etc/hosts, then DNS.

Missing tools leave the root as it was: the tests that need them fail, naming the command.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from kprov.images.oci import FileEntry

__all__ = [
    "AGNHOST_TOOLS", "ENV_KEEPING_SHELL", "parent_dirs", "shared_objects", "with_agnhost_tools",
    "with_env_keeping_shell",
]

ENV_KEEPING_SHELL = Path("/usr/local/libexec/kprov/busybox-ash")
# this machine's tool -> its path in the image (bin/ comes first on PATH, before busybox's)
AGNHOST_TOOLS = {
    Path("/usr/bin/dig"): "usr/bin/dig",
    Path("/usr/bin/getent"): "usr/bin/getent",
    Path("/usr/bin/curl"): "usr/bin/curl",
    Path("/bin/nc.openbsd"): "bin/nc",
    Path("/usr/bin/nsenter"): "bin/nsenter",
}
_NSSWITCH = b"passwd: files\ngroup: files\nhosts: files dns\n"
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def with_env_keeping_shell(files: list[FileEntry], shell: Path = ENV_KEEPING_SHELL) -> list[FileEntry]:
    """``files`` with bin/sh replaced by ``shell`` (unchanged if this machine lacks it)."""
    if not shell.is_file():
        return files
    shell_entry = FileEntry("bin/sh", data=shell.read_bytes(), mode=0o755)
    return [f for f in files if f.path != "bin/sh"] + [shell_entry]


def shared_objects(binary: Path) -> list[Path]:
    """The shared objects (and loader) ``ldd`` resolves for ``binary``."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return [Path(match.group(1)) for line in out.splitlines() if (match := _LDD_PATH.search(line))]


def parent_dirs(paths: Iterable[str], have: set[str]) -> list[FileEntry]:
    """Directory entries (0755) for the parents of ``paths`` not in ``have``, each before its
    children; ``have`` gains them."""
    added: list[FileEntry] = []
    for path in paths:
        for parent in reversed(PurePosixPath(path).parents[:-1]):
            if str(parent) not in have:
                have.add(str(parent))
                added.append(FileEntry(str(parent), is_dir=True, mode=0o755))
    return added


def with_agnhost_tools(files: list[FileEntry], tools: dict[Path, str] | None = None) -> list[FileEntry]:
    """``files`` plus each present tool at its image path (replacing a busybox applet link
    there), the shared objects it needs and nsswitch.conf."""
    present = {source: path for source, path in (tools or AGNHOST_TOOLS).items() if source.is_file()}
    if not present:
        return files
    files = [f for f in files if f.path not in present.values()]
    have = {f.path for f in files}
    added: list[FileEntry] = []
    wanted: dict[str, Path] = {}
    for source, path in present.items():
        wanted[path] = source
        for library in shared_objects(source):
            wanted[str(library).lstrip("/")] = library
    for path, source in sorted(wanted.items()):
        added += parent_dirs([path], have)
        if path not in have:
            have.add(path)
            added.append(FileEntry(path, data=source.read_bytes(), mode=0o755))
    if "etc/nsswitch.conf" not in have:
        added.append(FileEntry("etc/nsswitch.conf", data=_NSSWITCH))
    return files + added
