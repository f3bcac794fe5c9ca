"""ansible.builtin.group: a local group present (with gid) or absent; one getent decides."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

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


class GroupModule(ThreeStepModule):
    name = "group"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [query_script(params["name"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        name = params["name"]
        q = shlex.quote(name)
        (query,) = observed.values()
        fields = query.stdout.strip().split(":") if query.stdout.strip() else []
        exists = len(fields) >= 3
        gid = int(fields[2]) if exists else None
        command = ""
        if params["state"] == "absent":
            if exists:
                command = f"groupdel {'-f ' if params['force'] else ''}{q}"
        elif not exists:
            opts = ["-r"] if params["system"] else []
            opts += [f"-g {params['gid']}"] if params["gid"] is not None else []
            opts += ["-o"] if params["non_unique"] else []
            command = " ".join(["groupadd", *opts, q])
        elif params["gid"] is not None and gid != params["gid"]:
            command = f"groupmod -g {params['gid']}{' -o' if params['non_unique'] else ''} {q}"
        plan = Plan(changed=bool(command),
                    data={"name": name, "state": params["state"], "gid": gid, "system": params["system"]})
        if command:
            # present: the group's line read back in the same command (its gid for the result)
            present = params["state"] == "present"
            plan.commands = [f"{command} && getent group {q}; true" if present else command]
            plan.diff.append({
                "before": {"group": name, "state": "present" if exists else "absent", "gid": gid},
                "after": {"group": name, "state": params["state"], "gid": params["gid"] or gid},
            })
        return plan

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        name, present = plan.data["name"], plan.data["state"] == "present"
        (script,) = plan.commands
        done = ctx.run(script)
        if done.rc != 0 or (present and not done.stdout.strip()):
            raise ModuleFailed(f"group: {script.split()[0]} {name} failed: {done.stderr.strip()}", name=name)
        if present:
            plan.data["gid"] = int(done.stdout.strip().split(":")[2])


MODULE = GroupModule()
