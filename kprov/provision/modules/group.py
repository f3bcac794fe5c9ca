"""ansible.builtin.group: a local group present (with gid) or absent; one getent decides."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "GroupModule", "query_script"]

SPEC = {
    "name": Arg(required=True),
    "gid": Arg("int"),
    "state": Arg(default="present", choices=("present", "absent")),
    "system": Arg("bool", default=False),
    "local": Arg("bool", default=False),
    "non_unique": Arg("bool", default=False),
    "force": Arg("bool", default=False),
    "gid_min": Arg("int"),
    "gid_max": Arg("int"),
}


def query_script(name: str) -> str:
    """The probe: the group's line from the group database, or nothing."""
    return f"getent group {shlex.quote(name)}; true"


class GroupModule(ModuleBase):
    name = "group"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [query_script(params["name"])]

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        p = self.params(args)
        name = p["name"]
        q = shlex.quote(name)
        (query,) = read_declared(self, ctx, p).values()
        fields = query.stdout.strip().split(":") if query.stdout.strip() else []
        exists = len(fields) >= 3
        gid = int(fields[2]) if exists else None
        command = ""
        if p["state"] == "absent":
            if exists:
                command = f"groupdel {'-f ' if p['force'] else ''}{q}"
        elif not exists:
            opts = (["-r"] if p["system"] else []) + ([f"-g {p['gid']}"] if p["gid"] is not None else [])
            opts += ["-o"] if p["non_unique"] else []
            command = " ".join(["groupadd", *opts, q])
        elif p["gid"] is not None and gid != p["gid"]:
            command = f"groupmod -g {p['gid']}{' -o' if p['non_unique'] else ''} {q}"
        result = ModuleResult(
            changed=bool(command), data={"name": name, "state": p["state"], "gid": gid, "system": p["system"]}
        )
        if command and ctx.diff:
            result.diff.append(
                {
                    "before": {"group": name, "state": "present" if exists else "absent", "gid": gid},
                    "after": {"group": name, "state": p["state"], "gid": p["gid"] or gid},
                }
            )
        if not command or ctx.check_mode:
            return result
        done = ctx.run(f"{command} && getent group {q}; true" if p["state"] == "present" else command)
        if done.rc != 0 or (p["state"] == "present" and not done.stdout.strip()):
            raise ModuleFailed(f"group: {command.split()[0]} {name} failed: {done.stderr.strip()}", name=name)
        if p["state"] == "present":
            result.data["gid"] = int(done.stdout.strip().split(":")[2])
        return result


MODULE = GroupModule()
