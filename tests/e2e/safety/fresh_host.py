"""What a fresh lab host has, read from the lab's base image on this machine (every host is an
overlay over it): its installed packages, sysctl files and the entries of the directories
kprov writes into. A reset host must show the same (``differences``)."""

from __future__ import annotations

import os
from pathlib import Path

from kprov.lab import Lab

__all__ = ["COMPARED_DIRS", "HOST_VIEW_SCRIPT", "differences", "fresh_view", "parse_view"]

COMPARED_DIRS = ("/etc", "/etc/sysctl.d", "/opt", "/var/lib", "/var/log", "/usr/local/bin", "/usr/local/sbin")
HOST_VIEW_SCRIPT = (
    "dpkg-query -W -f='@pkg ${db:Status-Abbrev} ${Package}\\n'; "
    + "; ".join(f"ls -A {d} | sed 's|^|@dir {d} |'" for d in COMPARED_DIRS)
    + "; [ -e /run/containerd ] && echo '@dir /run containerd'; "
    + "[ \"$(cat /proc/sys/net/ipv4/ip_forward)\" = 1 ] && echo '@forward on'; true"
)


def parse_view(text: str) -> set[str]:
    view: set[str] = set()
    for line in text.splitlines():
        if line.startswith("@pkg "):
            _, status, name = line.split()
            if status.startswith("ii"):
                view.add(f"package {name}")
        elif line.startswith("@dir "):
            _, directory, entry = line.split(" ", 2)
            view.add(f"{directory}/{entry}".replace("//", "/"))
        elif line.startswith("@forward"):
            view.add("net.ipv4.ip_forward = 1")
    return view


def fresh_view(lab: Lab) -> set[str]:
    base = Path(lab.layout.base)
    view: set[str] = set()
    stanza: dict[str, str] = {}
    for line in [*(base / "var/lib/dpkg/status").read_text().splitlines(), ""]:
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            stanza[key] = value.strip()
        elif not line:
            if stanza.get("Status") == "install ok installed":
                view.add(f"package {stanza['Package']}")
            stanza = {}
    for directory in COMPARED_DIRS:
        path = base / directory.lstrip("/")
        if path.is_dir():
            view |= {f"{directory}/{entry}" for entry in os.listdir(path)}
    return view


def differences(lab: Lab, host_view: str, ignore: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(what the host has that a fresh host has not, what it lacks), minus ``ignore`` prefixes."""
    host, fresh = parse_view(host_view), fresh_view(lab)
    extra = sorted(e for e in host - fresh if not e.startswith(ignore))
    missing = sorted(e for e in fresh - host if not e.startswith(ignore))
    return extra, missing
