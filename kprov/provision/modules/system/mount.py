"""ansible.posix.mount: a mount point's line in fstab, and whether it is mounted.

Three steps (modules.contract): the probes read ``fstab`` and ask the host whether ``path``
is a mount point (``findmnt``) and exists; ``decide`` edits the fstab text as the Ansible
module does on Linux and plans the mount commands; ``act`` writes fstab, then runs them.

fstab rules kept from the module: fields are escaped (space ``\\040``, ``&`` ``\\046``,
backslash ``\\134``); comments, blank lines and lines of other than 4-6 fields stay as they
are; the line whose mount point is ``path`` (for swap, ``none`` with the same ``src``) is
rewritten as ``src path fstype opts dump passno`` when a field differs (a 4-field line
always is: its missing dump/passno differ), else a new one is appended; ``boot: false``
adds ``noauto``; a missing fstab is written only when a line goes into it (the module also
creates it empty when nothing changes). States: ``present`` (fstab only),
``absent_from_fstab`` (the line removed, only 6-field lines match), ``absent`` (removed and,
when it was, unmounted and its directory removed), ``unmounted``, ``mounted`` (the line,
the directory, then ``mount`` — or ``mount -o remount`` when it was mounted and the line
changed), ``remounted``. ``ephemeral`` is not supported.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import content_diff, parse_probe, probe_script

__all__ = ["MODULE", "MountModule"]

_STATES = ("absent", "absent_from_fstab", "mounted", "present", "unmounted", "remounted")
_FIELDS = ("src", "name", "fstype", "opts", "dump", "passno")


def escape(value: str) -> str:
    return value.replace("\\", "\\134").replace(" ", "\\040").replace("&", "\\046")


def _matches(fields: Mapping[str, Any], wanted: Mapping[str, str], src: str | None) -> bool:
    if fields["name"] != wanted["name"]:
        return False
    swap = fields["name"] == "none" and fields["fstype"] == "swap"
    return not (swap and src is not None and fields["src"] != src)


def set_line(text: str, wanted: Mapping[str, str], src: str | None) -> tuple[str, bool]:
    """fstab with ``wanted``'s line in it; whether that changed it."""
    out: list[str] = []
    exists = changed = False
    line_of = "{src} {name} {fstype} {opts} {dump} {passno}\n"
    for line in text.splitlines(keepends=True):
        line = line if line.endswith("\n") else line + "\n"
        words = line.split()
        if not line.strip() or line.strip().startswith("#") or len(words) not in (4, 5, 6):
            out.append(line)
            continue
        fields: dict[str, Any] = {"dump": 0, "passno": 0} | dict(zip(_FIELDS, words, strict=False))
        if not _matches(fields, wanted, src):
            out.append(line)
            continue
        exists = True
        differs = False
        for key in ("src", "fstype", "opts", "dump", "passno"):
            if fields[key] != wanted[key]:
                fields[key] = wanted[key]
                differs = True
        changed = changed or differs
        out.append(line_of.format(**fields) if differs else line)
    if not exists:
        out.append(line_of.format(**wanted))
        changed = True
    return "".join(out), changed


def unset_line(text: str, name: str, src: str | None) -> tuple[str, bool]:
    """fstab without the line of mount point ``name`` (6-field lines only, as the module)."""
    out: list[str] = []
    changed = False
    for line in text.splitlines(keepends=True):
        words = line.split()
        if not line.strip() or line.strip().startswith("#") or len(words) != 6:
            out.append(line)
            continue
        if _matches(dict(zip(_FIELDS, words, strict=True)), {"name": name}, src):
            changed = True
            continue
        out.append(line)
    return "".join(out), changed


class MountModule(ThreeStepModule):
    name = "mount"
    spec = {
        "path": Arg(required=True, aliases=("name",)),
        "src": Arg(),
        "fstype": Arg(),
        "opts": Arg(),
        "dump": Arg(default="0"),
        "passno": Arg(default="0"),
        "state": Arg(required=True, choices=_STATES),
        "fstab": Arg(),
        "boot": Arg("bool", default=True),
        "backup": Arg("bool", default=False),
        "opts_no_log": Arg("bool", default=False),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        path = shlex.quote(str(params["path"]))
        where = (f"findmnt -rn --mountpoint {path} >/dev/null && echo mounted; "
                 f"[ -e {path} ] && echo exists; true")
        fstab = probe_script(str(params["fstab"] or "/etc/fstab"), content=True, follow=True)
        return [fstab, where]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        state = params["state"]
        if state in ("mounted", "present") and not (params["src"] and params["fstype"]):
            missing = ", ".join(k for k in ("src", "fstype") if not params[k])
            return Plan(failed=f"state is {state} but all of the following are missing: {missing}")
        fstab = str(params["fstab"] or "/etc/fstab")
        file_probe, mount_probe = observed.values()
        current = parse_probe(fstab, file_probe.stdout)
        before = (current.data or b"").decode("utf-8", "surrogateescape") if current.exists else ""
        is_mounted = "mounted" in mount_probe.stdout.split()
        exists = "exists" in mount_probe.stdout.split()
        path = str(params["path"])
        opts = str(params["opts"] or "defaults")
        if not params["boot"] and "noauto" not in opts.split(","):
            opts += ",noauto"
        wanted = {"src": escape(str(params["src"] or "")), "name": escape(path),
                  "fstype": escape(str(params["fstype"] or "")), "opts": escape(opts),
                  "dump": escape(str(params["dump"])), "passno": escape(str(params["passno"]))}
        data = {"name": path, "src": params["src"], "fstype": params["fstype"], "opts": opts,
                "dump": str(params["dump"]), "passno": str(params["passno"]), "fstab": fstab,
                "boot": "yes" if params["boot"] else "no", "backup_file": ""}
        after, changed = before, False
        commands: list[str] = []
        tab = "" if fstab == "/etc/fstab" else f" -T {shlex.quote(fstab)}"
        q = shlex.quote(path)
        if state in ("absent", "absent_from_fstab"):
            after, changed = unset_line(before, escape(path), params["src"])
            if state == "absent" and changed:
                commands += ([f"umount {q}"] if is_mounted else []) + ([f"rmdir {q}"] if exists else [])
        elif state == "unmounted":
            changed = is_mounted
            commands = [f"umount {q}"] if is_mounted else []
        elif state == "remounted":
            changed = True
            commands = [f"mount{tab} -o remount {q}"]
        else:
            after, changed = set_line(before, wanted, params["src"])
            if state == "mounted":
                if not exists:
                    commands.append(f"mkdir -p {q}")
                if is_mounted and changed:
                    commands.append(f"mount{tab} -o remount {q} || {{ umount {q} && mount{tab} {q}; }}")
                elif not is_mounted:
                    commands.append(f"mount{tab} {q}")
                    changed = True
        plan = Plan(changed=changed, data=data, commands=commands)
        if after != before:
            plan.files = {fstab: after}
            plan.diff = [content_diff(fstab, current.data if current.exists else None,
                                      after.encode("utf-8", "surrogateescape"))]
        return plan  # the default act: fstab first, then mkdir / mount / umount


MODULE = MountModule()
