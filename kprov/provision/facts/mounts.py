"""The ``mounts`` and ``selinux`` facts: their sections of the facts script and their parsers.

``mounts`` as Ansible's Linux hardware collector gathers them: the mount table (/etc/mtab,
else /proc/mounts) without pseudo file systems (a device not starting with ``/`` or ``\\``
and not ``host:/path``, or file system type ``none``), octal escapes undone, each entry
with its statvfs sizes (``size_*``, ``block_*``, ``inode_*``), its device's UUID from
``lsblk`` (``N/A`` when it has none) and ``,bind`` added to the options of a bind mount
(one whose root inside its file system is not ``/``: what ``findmnt`` shows as
``device[/dir]``, read from /proc/self/mountinfo; as in Ansible, not one whose mount point
has a blank or a backslash, which findmnt escapes). A mount point listed twice is one entry
(the last line's values), as Ansible keys its entries by mount point. Four processes inside
the one facts command, no extra round trip: an awk keeps the table's real file systems (the
shell's ``read`` takes a /proc file a byte per system call: 6 ms of a lab host's CPU for its
50 mounts, on every host in every run), ``stat -f`` once for their mount points, ``lsblk``,
and an awk listing bind mounts from mountinfo (findmnt cost 2.6 ms). Where Ansible would ask
``udevadm`` for a device lsblk does not know, the UUID here is ``N/A``.

``selinux`` as Ansible reports it: without libselinux (Ansible reaches it through ctypes)
``{"status": "Missing selinux Python library"}`` and ``selinux_python_present`` false;
with it ``disabled`` unless selinuxfs is mounted, else ``enabled`` with ``mode`` (the
enforce file), ``policyvers``, ``config_mode`` and ``type`` (/etc/selinux/config).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MOUNTS_SCRIPT", "SELINUX_SCRIPT", "mounts", "selinux"]

# The awk filter is the shell's test (device /..., \... or host:/path; type not none), so
# the loop only reads the few lines it keeps.
_REAL_FS = r"""$3 != "none" && ($1 ~ /^[\/\\]/ || index($1, ":/"))"""

MOUNTS_SCRIPT = (
    "t=/etc/mtab; [ -e $t ] || t=/proc/mounts; set --\n"
    'while read -r d m f o r; do [ -n "$d" ] || continue\n'
    " printf '%s\\n' \"M $d $m $f $o $r\"\n"
    " case $m in *\\\\*) m=$(printf '%b' \"$(printf '%s' \"$m\" |"
    " sed 's/\\\\\\([0-7]\\{3\\}\\)/\\\\0\\1/g')\");; esac\n"
    ' set -- "$@" "$m"; done <<KPROV_MTAB\n'
    f"$(awk '{_REAL_FS}' $t)\n"
    "KPROV_MTAB\n"
    "echo --statvfs; [ $# -gt 0 ] && stat -f -c '%S|%s|%b|%a|%c|%d|%n' -- \"$@\"\n"
    "echo --lsblk; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2\n"
    "echo --binds; awk '$4 != \"/\" {print $5}' /proc/self/mountinfo; set --"
)

SELINUX_SCRIPT = (
    "for l in /lib/*-linux-gnu/libselinux.so.1 /usr/lib/*-linux-gnu/libselinux.so.1 /lib64/libselinux.so.1 "
    '/usr/lib64/libselinux.so.1; do [ -e "$l" ] && { echo lib; break; }; done\n'
    "if [ -r /sys/fs/selinux/enforce ]; then read -r e < /sys/fs/selinux/enforce; echo \"enforce $e\"\n"
    " read -r v < /sys/fs/selinux/policyvers && echo \"policyvers $v\"; _rd /etc/selinux/config; fi"
)

_OCTAL = re.compile(r"\\[0-9]{3}")
_MODES = {"1": "enforcing", "0": "permissive"}


def _unescape(value: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group()[1:], 8)), value)


def _parts(text: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {"mtab": []}
    current = "mtab"
    for line in text.splitlines():
        if line.startswith("--") and line[2:] in ("statvfs", "lsblk", "binds"):
            current = line[2:]
            parts[current] = []
        elif line.strip():
            parts[current].append(line)
    return parts


def _sizes(lines: list[str]) -> dict[str, dict[str, int]]:
    sizes: dict[str, dict[str, int]] = {}
    for line in lines:
        fields = line.split("|", 6)
        if len(fields) != 7 or not all(f.isdigit() for f in fields[:6]):
            continue
        frsize, bsize, blocks, bavail, files, ffree = (int(f) for f in fields[:6])
        sizes[fields[6]] = {
            "size_total": frsize * blocks, "size_available": frsize * bavail,
            "block_size": bsize, "block_total": blocks, "block_available": bavail,
            "block_used": blocks - bavail,
            "inode_total": files, "inode_available": ffree, "inode_used": files - ffree,
        }
    return sizes


def mounts(text: str, facts: dict[str, Any]) -> None:
    parts = _parts(text)
    uuids: dict[str, str] = {}
    for line in parts.get("lsblk", []):
        fields = line.strip().rsplit(None, 1)
        if len(fields) == 2:
            uuids[fields[0]] = fields[1]
    # Ansible compares findmnt's TARGET, which escapes blanks and backslashes (``\x20``), with
    # the unescaped mount point: such a bind mount is never marked there, nor here.
    binds = {line.strip() for line in parts.get("binds", []) if "\\" not in line}
    sizes = _sizes(parts.get("statvfs", []))
    entries: dict[str, dict[str, Any]] = {}
    for line in parts["mtab"]:
        fields = [_unescape(f) for f in line.split()[1:]]
        if len(fields) < 6 or not (fields[4].isdigit() and fields[5].isdigit()):
            continue
        device, mount, fstype, options = fields[:4]
        info: dict[str, Any] = {"mount": mount, "device": device, "fstype": fstype, "options": options,
                                "dump": int(fields[4]), "passno": int(fields[5])}
        if mount in binds:
            info["options"] += ",bind"
        info.update(sizes.get(mount, {}))
        info["uuid"] = uuids.get(device) or "N/A"
        entries[mount] = info
    facts["mounts"] = list(entries.values())


def selinux(text: str, facts: dict[str, Any]) -> None:
    lines = text.splitlines()
    if "lib" not in lines:
        facts["selinux"] = {"status": "Missing selinux Python library"}
        facts["selinux_python_present"] = False
        return
    facts["selinux_python_present"] = True
    values = dict(line.split(" ", 1) for line in lines if line.startswith(("enforce ", "policyvers ")))
    if "enforce" not in values:
        facts["selinux"] = {"status": "disabled"}
        return
    config = dict(line.strip().split("=", 1) for line in lines if re.match(r"\s*SELINUX(TYPE)?=", line))
    policyvers = values.get("policyvers", "")
    facts["selinux"] = {
        "status": "enabled",
        "policyvers": int(policyvers) if policyvers.isdigit() else "unknown",
        "config_mode": config.get("SELINUX", "unknown") if config.get("SELINUX") in (
            "enforcing", "permissive", "disabled") else "unknown",
        "mode": _MODES.get(values["enforce"].strip(), "unknown"),
        "type": config.get("SELINUXTYPE", "unknown"),
    }
