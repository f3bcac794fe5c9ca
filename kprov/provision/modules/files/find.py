"""ansible.builtin.find: the files under ``paths`` that match, as Ansible's find returns them.

Three steps (modules.contract), read-only: the one probe walks every path on the host with
the host's own Python (``os.walk``, so the order is the host's, as Ansible's), printing one
JSON line per entry with its lstat (stat with ``follow``), the host's clock, and — for
``contains`` — whether a line (or, with ``read_whole_file``, the whole file) matches;
``decide`` applies Ansible's filters (patterns as shell globs or, with ``use_regex``,
regular expressions matched from the start of the name; ``excludes``; ``file_type``;
``hidden``; ``age``/``age_stamp``; ``size``; ``depth``) and returns ``files`` (each with
Ansible's stat fields), ``matched``, ``examined``, ``skipped_paths`` and ``msg``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import stat as statmod
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "FindModule"]

_WALK = r"""
import json, os, re, sys, time
a = json.loads(sys.argv[1])
out = sys.stdout
out.write(json.dumps({"now": time.time()}) + "\n")
rx = re.compile(a["contains"]) if a["contains"] is not None else None
def contains(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            if a["whole"]:
                return bool(rx.search(f.read()))
            return any(rx.match(line) for line in f)
    except OSError:
        return False
for top in a["paths"]:
    top = os.path.expanduser(os.path.expandvars(top))
    if not os.path.isdir(top):
        why = "%s was skipped as it does not seem to be a valid directory or it cannot be accessed"
        out.write(json.dumps({"skipped": top, "why": why % top}) + "\n")
        continue
    base = (top.rstrip(os.path.sep) + os.path.sep).count(os.path.sep)
    for root, dirs, files in os.walk(top, followlinks=a["follow"]):
        out.write(json.dumps({"looked": len(files) + len(dirs)}) + "\n")
        for name in files + dirs:
            path = os.path.normpath(os.path.join(root, name))
            if a["depth"] and path.count(os.path.sep) - base + 1 > a["depth"]:
                del dirs[:]
                continue
            try:
                st = os.stat(path) if a["follow"] else os.lstat(path)
            except OSError:
                continue
            e = {"path": path, "name": name, "st": [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_ino,
                 st.st_dev, st.st_nlink, st.st_atime, st.st_mtime, st.st_ctime]}
            try:
                import pwd
                e["pw"] = pwd.getpwuid(st.st_uid).pw_name
            except (KeyError, ImportError):
                e["pw"] = ""
            try:
                import grp
                e["gr"] = grp.getgrgid(st.st_gid).gr_name
            except (KeyError, ImportError):
                e["gr"] = ""
            if rx is not None and os.path.isfile(path):
                e["contains"] = contains(path)
            out.write(json.dumps(e) + "\n")
        if not a["recurse"]:
            break
"""

_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STAMPS = {"atime": 7, "mtime": 8, "ctime": 9}


def _signed_amount(text: str, units: Mapping[str, int]) -> int | None:
    """'-3d' -> -259200 with the age units; a bare number is in the first unit."""
    found = re.fullmatch(r"(-?\d+)([a-z]?)", text.strip().lower())
    if not found or (found.group(2) and found.group(2) not in units):
        return None
    number, unit = found.groups()
    return int(number) * units[unit or next(iter(units))]


def _statinfo(entry: Mapping[str, Any]) -> dict[str, Any]:
    mode, uid, gid, size, inode, dev, nlink, atime, mtime, ctime = entry["st"]
    info: dict[str, Any] = {
        "path": entry["path"], "mode": f"{statmod.S_IMODE(mode):04o}",
        "isdir": statmod.S_ISDIR(mode), "ischr": statmod.S_ISCHR(mode), "isblk": statmod.S_ISBLK(mode),
        "isreg": statmod.S_ISREG(mode), "isfifo": statmod.S_ISFIFO(mode), "islnk": statmod.S_ISLNK(mode),
        "issock": statmod.S_ISSOCK(mode), "uid": uid, "gid": gid, "size": size, "inode": inode,
        "dev": dev, "nlink": nlink, "atime": atime, "mtime": mtime, "ctime": ctime,
        "gr_name": entry.get("gr", ""), "pw_name": entry.get("pw", ""),
    }
    for who, shift in (("usr", 6), ("grp", 3), ("oth", 0)):
        for perm, bit in (("w", 2), ("r", 4), ("x", 1)):
            info[f"{perm}{who}"] = bool(mode & (bit << shift))
    info["isuid"] = bool(mode & statmod.S_ISUID)
    info["isgid"] = bool(mode & statmod.S_ISGID)
    return info


class FindModule(ThreeStepModule):
    name = "find"
    spec = {
        "paths": Arg("list", required=True, aliases=("name", "path")),
        "patterns": Arg("list", default=[], aliases=("pattern",)),
        "excludes": Arg("list", aliases=("exclude",)),
        "contains": Arg(),
        "read_whole_file": Arg("bool", default=False),
        "file_type": Arg(default="file", choices=("any", "directory", "file", "link")),
        "age": Arg(),
        "age_stamp": Arg(default="mtime", choices=("atime", "ctime", "mtime")),
        "size": Arg(),
        "recurse": Arg("bool", default=False),
        "hidden": Arg("bool", default=False),
        "follow": Arg("bool", default=False),
        "get_checksum": Arg("bool", default=False),
        "use_regex": Arg("bool", default=False),
        "depth": Arg("int"),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        walk = {"paths": [str(p) for p in params["paths"]], "recurse": params["recurse"],
                "follow": params["follow"], "depth": params["depth"], "contains": params["contains"],
                "whole": params["read_whole_file"]}
        return [f"python3 -c {shlex.quote(_WALK)} {shlex.quote(json.dumps(walk))}"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        if probe.rc != 0:
            return Plan(failed=f"find: cannot walk {', '.join(map(str, params['paths']))}: "
                               f"{(probe.stderr or probe.stdout).strip()[-500:]}")
        age = size = None
        if params["age"] is not None:
            age = _signed_amount(str(params["age"]), _AGE_UNITS)
            if age is None:
                return Plan(failed=f"failed to process age {params['age']}")
        if params["size"] is not None:
            size = _signed_amount(str(params["size"]), _UNITS)
            if size is None:
                return Plan(failed=f"failed to process size {params['size']}")
        files: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        examined, now = 0, 0.0
        for line in probe.stdout.splitlines():
            entry = json.loads(line)
            if "now" in entry:
                now = entry["now"]
            elif "skipped" in entry:
                skipped[entry["skipped"]] = entry["why"]
            elif "looked" in entry:
                examined += entry["looked"]
            elif self._matches(params, entry, now, age, size):
                files.append(_statinfo(entry))
        msg = "All paths examined" if not skipped else "Not all paths examined, check warnings for details"
        return Plan(msg=msg, data={"files": files, "matched": len(files), "examined": examined,
                                   "skipped_paths": skipped})

    @staticmethod
    def _name_matches(params: Mapping[str, Any], name: str) -> bool:
        patterns = [str(p) for p in params["patterns"]] or ["*"]
        excludes = [str(p) for p in params["excludes"] or []]

        def hit(pattern: str) -> bool:
            return bool(re.match(pattern, name)) if params["use_regex"] else fnmatch.fnmatch(name, pattern)

        return any(hit(p) for p in patterns) and not any(hit(p) for p in excludes)

    def _matches(self, params: Mapping[str, Any], entry: Mapping[str, Any], now: float,
                 age: int | None, size: int | None) -> bool:
        name, mode = entry["name"], entry["st"][0]
        if not params["hidden"] and name.startswith("."):
            return False
        kind = params["file_type"]
        if statmod.S_ISDIR(mode):
            wanted = kind in ("directory", "any")
        elif statmod.S_ISREG(mode):
            wanted = kind in ("file", "any")
        elif statmod.S_ISLNK(mode):
            wanted = kind in ("link", "any")
        else:
            wanted = kind == "any"
        if not wanted or not self._name_matches(params, name):
            return False
        if age is not None:
            elapsed = now - entry["st"][_STAMPS[params["age_stamp"]]]
            if (age >= 0 and elapsed < abs(age)) or (age < 0 and elapsed > abs(age)):
                return False
        if statmod.S_ISREG(mode):
            if size is not None:
                actual = entry["st"][3]
                if (size >= 0 and actual < abs(size)) or (size < 0 and actual > abs(size)):
                    return False
            if params["contains"] is not None and not entry.get("contains"):
                return False
        return True


MODULE = FindModule()
