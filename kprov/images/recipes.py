"""Ready-made image specs built from this machine's static busybox.

``busybox_image`` is a general test image (a shell and ~270 applets, /etc/passwd, /tmp, /var/tmp);
``pause_image`` is the pod sandbox image: the same files with :data:`PAUSE_ENTRYPOINT`,
which behaves as upstream's pause: it only holds the pod's namespaces open, exits 0 at once
on SIGTERM or SIGINT (a plain ``sleep`` as PID 1 ignores them, so every delete of a pod
running the image would wait out its grace period), and reaps the zombies a shared PID
namespace hands it (busybox sh's ``wait`` collects any child, its own or an orphan).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kprov.images.oci import FileEntry, ImageSpec

__all__ = ["BUSYBOX_PATH", "PAUSE_ENTRYPOINT", "busybox_files", "busybox_image", "pause_image"]

BUSYBOX_PATH = Path("/bin/busybox")
# busybox's own sh (whatever /bin/sh is in the image): trap the stop signals, sleep in a
# background job and wait for it, so a signal interrupts the wait at once.
PAUSE_ENTRYPOINT = [
    "/bin/busybox", "sh", "-c",
    "trap 'kill $! 2>/dev/null; exit 0' TERM INT; while :; do sleep 2147483647 & wait; done",
]
BASE_DIRS = ("bin", "dev", "etc", "proc", "root", "sys", "usr", "usr/bin", "var")


def _applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({name for name in out.split() if name and name != "busybox"})


# Debian's busybox 1.35 is built without wget's -T (FEATURE_WGET_TIMEOUT), and its option
# parser still takes -T and crashes (SIGSEGV). e2e specs run `wget -q -T 1 -O - <url>` (the
# service checks), so bin/wget is busybox's wget with -T N / -TN turned into a bound on the
# whole download (busybox timeout); past it, upstream's words and status.
_WGET = b"""#!/bin/sh
n=$# limit=
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    -T) if [ "$n" -gt 0 ]; then limit=$1; shift; n=$((n - 1)); fi; continue ;;
    -T?*) limit=${a#-T}; continue ;;
  esac
  set -- "$@" "$a"
done
[ -n "$limit" ] || exec /bin/busybox wget "$@"
/bin/busybox timeout "$limit" /bin/busybox wget "$@"
rc=$?
[ "$rc" -eq 143 ] || exit "$rc"
echo "wget: download timed out" >&2
exit 1
"""


# Debian's busybox has no printenv applet (e2e specs run `printenv NAME` in busybox-based
# images); this one prints the named variables (exit 1 if one is unset) or all of them
_PRINTENV = b"""#!/bin/sh
[ "$#" -eq 0 ] && exec /bin/busybox env
rc=0
for name do
  /bin/busybox awk -v n="$name" 'BEGIN { if (n in ENVIRON) print ENVIRON[n]; else exit 1 }' || rc=1
done
exit "$rc"
"""


def busybox_files(busybox: Path = BUSYBOX_PATH) -> list[FileEntry]:
    """The files of a busybox root: the binary, one symlink per applet, a passwd/group."""
    if not busybox.is_file():
        raise FileNotFoundError(f"{busybox}: a static busybox is needed (apt-get install busybox-static)")
    files = [FileEntry(d, is_dir=True, mode=0o755) for d in BASE_DIRS]
    # both sticky and world-writable, as in Alpine (the e2e images' base): upstream's DaemonSet
    # surge spec's readiness probe touches /var/tmp/ready
    files += [FileEntry(d, is_dir=True, mode=0o1777) for d in ("tmp", "var/tmp")]
    files.append(FileEntry("bin/busybox", data=busybox.read_bytes(), mode=0o755))
    files += [FileEntry(f"bin/{name}", symlink_to="busybox") for name in _applets(busybox)
              if name not in ("wget", "printenv")]
    files.append(FileEntry("bin/wget", data=_WGET, mode=0o755))
    files.append(FileEntry("bin/printenv", data=_PRINTENV, mode=0o755))
    files.append(
        FileEntry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    )
    files.append(FileEntry("etc/group", data=b"root:x:0:\nnobody:x:65534:\n"))
    return files


def busybox_image(reference: str = "kprov.local/busybox:1", busybox: Path = BUSYBOX_PATH) -> ImageSpec:
    return ImageSpec(reference=reference, files=busybox_files(busybox), cmd=["/bin/sh"])


def pause_image(reference: str = "kprov.local/pause:1", busybox: Path = BUSYBOX_PATH) -> ImageSpec:
    return ImageSpec(reference=reference, files=busybox_files(busybox), entrypoint=list(PAUSE_ENTRYPOINT))
