"""ansible.builtin.stat: facts about one path, in one command, under Ansible's return names
(``stat.exists``, ``stat.isdir``, ``stat.mode`` as '0644', ``stat.checksum`` (sha1), ...)."""

from __future__ import annotations

import shlex
import stat as statmod
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import FileState, mode_string, parse_probe, probe_script

__all__ = ["ALGORITHMS", "MODULE", "StatModule", "stat_dict", "stat_script"]

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
SPEC = {
    "path": Arg(required=True, aliases=("dest", "name")), "follow": Arg("bool", default=False),
    "get_checksum": Arg("bool", default=True),
    "checksum_algorithm": Arg(default="sha1", aliases=("checksum", "checksum_algo"),
                              choices=ALGORITHMS),
    "get_mime": Arg("bool", default=True, aliases=("mime", "mime_type", "mime-type")),
    "get_attributes": Arg("bool", default=True, aliases=("attr", "attributes")),
    "get_md5": Arg("bool", default=False),
}


def stat_dict(state: FileState, *, readable: bool, writeable: bool, executable: bool) -> dict[str, Any]:
    if not state.exists:
        return {"exists": False}
    mode = state.mode
    out: dict[str, Any] = {
        "exists": True, "path": state.path, "mode": mode_string(mode),
        "isdir": state.kind == "directory", "isreg": state.kind == "file", "islnk": state.kind == "link",
        "isblk": state.kind == "block", "ischr": state.kind == "char", "isfifo": state.kind == "fifo",
        "issock": state.kind == "socket", "uid": state.uid, "gid": state.gid, "pw_name": state.owner,
        "gr_name": state.group, "size": state.size, "mtime": state.mtime, "atime": state.atime,
        "ctime": state.ctime, "inode": state.inode, "dev": state.dev, "nlink": state.nlink,
        "readable": readable, "writeable": writeable, "executable": executable,
        "isuid": bool(mode & statmod.S_ISUID), "isgid": bool(mode & statmod.S_ISGID),
    }
    for who, shift in (("usr", 6), ("grp", 3), ("oth", 0)):
        for perm, bit in (("r", 4), ("w", 2), ("x", 1)):
            out[f"{perm}{who}"] = bool(mode & (bit << shift))
    if state.link_target is not None:
        out["lnk_source"] = state.link_target
        out["lnk_target"] = state.link_target
    return out


def stat_script(path: str, follow: bool, algorithm: str | None) -> str:
    """The one probe: the path's state, access for us, and its checksum (``algorithm``)."""
    q = shlex.quote(path)
    script = probe_script(path, follow=follow)
    script += f"; [ -r {q} ] && echo R:1; [ -w {q} ] && echo W:1; [ -x {q} ] && echo X:1; true"
    if algorithm:
        script += f"; [ -f {q} ] && [ -r {q} ] && printf 'SUM:' && {algorithm}sum < {q}"
    return script + "; true"


class StatModule(ThreeStepModule):
    name = "stat"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        algorithm = params["checksum_algorithm"] if params["get_checksum"] else None
        return [stat_script(params["path"], params["follow"], algorithm)]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        path = params["path"]
        (result,) = observed.values()
        if result.rc != 0:
            return Plan(failed=f"stat: cannot inspect {path}: {result.stderr.strip()}")
        state = parse_probe(path, result.stdout)
        lines = result.stdout.splitlines()
        out = stat_dict(state, readable="R:1" in lines, writeable="W:1" in lines, executable="X:1" in lines)
        checksum = next((line[4:].split(" ")[0] for line in lines if line.startswith("SUM:")), None)
        if state.exists and checksum:
            out["checksum"] = checksum
        return Plan(data={"stat": out})


MODULE = StatModule()
