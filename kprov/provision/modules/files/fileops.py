"""Remote file state in one command, file modes, attribute fixes and diffs, shared by the
file-handling modules (copy, template, file, lineinfile, blockinfile, stat, ...).

``probe_script(path, ...)`` prints one ``STAT:`` line (type, ids, names, mode, size, times,
inode) plus optional ``SHA1:``, ``LINK:`` and base64 ``DATA:`` lines; ``parse_probe`` turns it
into a ``FileState``. So a no-op file task costs one round trip: the module sends the probe,
compares with what it wants, and stops.
"""

from __future__ import annotations

import base64
import re
import secrets
import shlex
import stat as statmod
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import ModuleContext, ModuleFailed
from kprov.provision.redact import SECRET_DIFF, is_secret_file

__all__ = [
    "validate_command",
    "FileState", "attribute_commands", "backup_command", "content_diff", "file_return", "mode_string",
    "parse_probe", "parse_probe_result", "probe", "probe_script", "resolve_mode", "state_diff", "write_file",
]

_STAT_FORMAT = "%f|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h"


@dataclass(frozen=True)
class FileState:
    path: str
    exists: bool
    kind: str = "absent"  # file | directory | link | block | char | fifo | socket | absent
    mode: int = 0
    uid: int = -1
    gid: int = -1
    owner: str = ""
    group: str = ""
    size: int = 0
    mtime: float = 0.0
    atime: float = 0.0
    ctime: float = 0.0
    inode: int = 0
    dev: int = 0
    nlink: int = 0
    checksum: str | None = None
    link_target: str | None = None
    data: bytes | None = None


def probe_script(path: str, *, checksum: bool = False, content: bool = False, follow: bool = False) -> str:
    """Shell printing the state of ``path`` (``follow``: of what a symlink points to)."""
    p = shlex.quote(path)
    stat = f"stat {'-L ' if follow else ''}-c 'STAT:{_STAT_FORMAT}' -- {p}"
    extra = []
    if checksum:
        extra.append(f"[ -f {p} ] && [ -r {p} ] && printf 'SHA1:' && sha1sum < {p}")
    extra.append(f"[ -L {p} ] && printf 'LINK:%s\\n' \"$(readlink -- {p})\"")
    if content:
        extra.append(f"[ -f {p} ] && printf 'DATA:' && base64 -w0 -- {p} && echo")
    body = "; ".join(extra)
    return f"if [ -e {p} ] || [ -L {p} ]; then {stat}; {body}; true; else echo ABSENT; fi"


def parse_probe(path: str, text: str) -> FileState:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("STAT", "SHA1", "LINK", "DATA"):
            fields.setdefault(key, value.split(" ")[0] if key == "SHA1" else value)
    if "STAT" not in fields:
        return FileState(path=path, exists=False)
    raw, uid, gid, owner, group, size, mtime, atime, ctime, inode, dev, nlink = fields["STAT"].split("|")
    st_mode = int(raw, 16)
    kinds = ((statmod.S_ISLNK, "link"), (statmod.S_ISDIR, "directory"), (statmod.S_ISREG, "file"),
             (statmod.S_ISBLK, "block"), (statmod.S_ISCHR, "char"), (statmod.S_ISFIFO, "fifo"),
             (statmod.S_ISSOCK, "socket"))
    kind = next(name for test, name in (*kinds, (lambda _m: True, "other")) if test(st_mode))
    return FileState(
        path=path, exists=True, kind=kind, mode=statmod.S_IMODE(st_mode), uid=int(uid), gid=int(gid),
        owner=owner, group=group, size=int(size), mtime=float(mtime), atime=float(atime),
        ctime=float(ctime), inode=int(inode), dev=int(dev), nlink=int(nlink),
        checksum=fields.get("SHA1") or None, link_target=fields.get("LINK"),
        data=base64.b64decode(fields["DATA"]) if "DATA" in fields else None,
    )


def parse_probe_result(path: str, result: CommandResult) -> FileState:
    """The state a probe's result tells (a decision's reading of it); a failed probe fails."""
    if result.rc != 0:
        raise ModuleFailed(f"cannot inspect {path}: {result.stderr.strip() or result.stdout.strip()}")
    return parse_probe(path, result.stdout)


def probe(ctx: ModuleContext, path: str, *, checksum: bool = False, content: bool = False,
          follow: bool = False) -> FileState:
    result = ctx.probe(probe_script(path, checksum=checksum, content=content, follow=follow))
    return parse_probe_result(path, result)


def mode_string(mode: int) -> str:
    return f"{mode:04o}"


_SYMBOLIC = re.compile(r"^([ugoa]*)([-+=])([rwxXst]*|[ugo])$")


def _apply_symbolic(current: int, spec: str, is_dir: bool, module: str) -> int:
    mode = current
    for clause in spec.split(","):
        match = _SYMBOLIC.match(clause.strip())
        if not match:
            raise ModuleFailed(
                f"{module}: mode {spec!r}: cannot parse {clause!r} (use '0644' or 'u+rwx,g-w')"
            )
        who, op, perms = match.groups()
        who = who.replace("a", "ugo") or "ugo"
        if perms in ("u", "g", "o"):
            shift = {"u": 6, "g": 3, "o": 0}[perms]
            bits_rwx = (current >> shift) & 7
            perms = "".join(c for c, b in (("r", 4), ("w", 2), ("x", 1)) if bits_rwx & b)
        bits = 0
        for who_char in who:
            shift = {"u": 6, "g": 3, "o": 0}[who_char]
            for perm in perms:
                if perm == "r":
                    bits |= 4 << shift
                elif perm == "w":
                    bits |= 2 << shift
                elif perm == "x" or (perm == "X" and (is_dir or current & 0o111)):
                    bits |= 1 << shift
                elif perm == "s" and who_char in "ug":
                    bits |= statmod.S_ISUID if who_char == "u" else statmod.S_ISGID
                elif perm == "t":
                    bits |= statmod.S_ISVTX
        if op == "+":
            mode |= bits
        elif op == "-":
            mode &= ~bits
        else:
            mask = 0
            for who_char in who:
                shift = {"u": 6, "g": 3, "o": 0}[who_char]
                mask |= 7 << shift
                mask |= {"u": statmod.S_ISUID, "g": statmod.S_ISGID, "o": statmod.S_ISVTX}[who_char]
            mode = (mode & ~mask) | bits
    return mode


def resolve_mode(mode: int | str | None, current: int | None, *, is_dir: bool = False,
                 module: str = "file") -> int | None:
    """The numeric mode wanted: int as is, '0644'/'644' octal, symbolic relative to ``current``."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    text = mode.strip()
    if text == "preserve":
        return None
    if re.fullmatch(r"[0-7]{1,4}", text):
        return int(text, 8)
    base = current if current is not None else (0o755 if is_dir else 0o644)
    return _apply_symbolic(base, text, is_dir, module)


def attribute_commands(state: FileState, *, owner: str | None, group: str | None,
                       mode: int | None, follow: bool = True) -> list[str]:
    """Commands that make an existing path's owner/group/mode the wanted ones (none if equal)."""
    p = shlex.quote(state.path)
    flag = "" if follow or state.kind != "link" else "-h "
    commands = []
    if owner is not None and owner not in (state.owner, str(state.uid)):
        commands.append(f"chown {flag}{shlex.quote(owner)} -- {p}")
    if group is not None and group not in (state.group, str(state.gid)):
        commands.append(f"chgrp {flag}{shlex.quote(group)} -- {p}")
    if mode is not None and mode != state.mode and state.kind != "link":
        commands.append(f"chmod {mode_string(mode)} -- {p}")
    return commands


def state_diff(path: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {"before": {"path": path, **before}, "after": {"path": path, **after}}


def content_diff(path: str, before: bytes | None, after: bytes) -> dict[str, Any]:
    """An Ansible-shaped content diff; for key material and credentials (redact) only the
    fact that the content changed, marked ``secret``."""
    if is_secret_file(path, after) or is_secret_file(path, before):
        return {"before": "", "after": SECRET_DIFF, "secret": True,
                "before_header": path if before is not None else f"{path} (absent)", "after_header": path}

    def text(data: bytes | None) -> str:
        if data is None:
            return ""
        if b"\0" in data[:8192]:
            return "(binary content)"
        return data.decode("utf-8", "replace")

    return {
        "before": text(before), "after": text(after),
        "before_header": path if before is not None else f"{path} (absent)",
        "after_header": path,
    }


def backup_command(path: str) -> str:
    """Ansible-style backup: ``path.<pid>.<timestamp>~`` beside the file; prints its name."""
    p = shlex.quote(path)
    return (f"b={p}.$$.$(date +%Y-%m-%d@%H:%M:%S)~ && cp -p -- {p} \"$b\" && printf 'BACKUP:%s\\n' \"$b\"")


def validate_command(validate: str, path: str) -> str:
    """``validate`` with ``%s`` as ``path``, as ansible-core runs it (``run_command`` on the
    string: split as shlex splits it, no shell), quoted back for the host's shell; a
    multi-line ``validate`` (a folded Jinja2 block) is one command, not several."""
    return shlex.join(shlex.split(validate.replace("%s", path)))


def write_file(ctx: ModuleContext, path: str, data: bytes, *, mode: int | None, owner: str | None,
               group: str | None, backup: bool, exists: bool, validate: str | None = None) -> str | None:
    """Atomically replace ``path``; returns the backup file name if one was made."""
    if validate:
        if "%s" not in validate:
            raise ModuleFailed(f"validate must contain %s (got {validate!r})")
        probe_path = f"/tmp/.kprov-validate-{secrets.token_hex(6)}"
        ctx.put(data, probe_path, mode=0o600)
        command = validate_command(validate, probe_path)
        checked = ctx.run(f"{command}; rc=$?; rm -f {probe_path}; exit $rc")
        if checked.rc != 0:
            raise ModuleFailed(f"failed to validate: {checked.stderr.strip() or checked.stdout.strip()}",
                               rc=checked.rc, stdout=checked.stdout, stderr=checked.stderr)
    backup_file = None
    if backup and exists:
        made = ctx.run(backup_command(path))
        if made.rc != 0:
            raise ModuleFailed(f"cannot back up {path}: {made.stderr.strip()}")
        backup_file = made.stdout.strip().removeprefix("BACKUP:")
    try:
        ctx.put(data, path, mode=mode, owner=owner, group=group)
    except OSError as exc:
        raise ModuleFailed(str(exc)) from exc
    return backup_file


def file_return(state: FileState) -> dict[str, Any]:
    return {
        "path": state.path, "uid": state.uid, "gid": state.gid, "owner": state.owner, "group": state.group,
        "mode": mode_string(state.mode), "size": state.size,
        "state": {"directory": "directory", "link": "link", "file": "file"}.get(state.kind, state.kind),
    }
