"""community.general.modprobe: load or unload a kernel module (and persist it).

One command answers whether the module is loaded (/proc/modules) or built in
(modules.builtin). Loading goes through ``modprobe``; inside a container (lab hosts) the
kernel refuses or /lib/modules is absent, and the task fails saying so. ``persistent``
writes /etc/modules-load.d/NAME.conf (and /etc/modprobe.d/NAME.conf for params). In the
module contract's steps: ``decide`` (pure) gives a frozen ``ModprobePlan``, ``act`` runs it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, decide_then_act

__all__ = ["MODULE", "ModprobeModule", "ModprobePlan"]

SPEC = {
    "name": Arg(required=True), "state": Arg(default="present", choices=("present", "absent")),
    "params": Arg(default=""),
    "persistent": Arg(default="disabled", choices=("disabled", "absent", "present")),
}


@dataclass(frozen=True)
class ModprobePlan:
    """The ``commands`` that load/unload and persist the module (none: nothing to do)."""

    changed: bool = False
    commands: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    no_modules: bool = False  # the host has no /lib/modules for its kernel


class ModprobeModule(ModuleBase):
    name = "modprobe"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", p["name"]):
            raise ModuleFailed(f"modprobe: argument 'name': {p['name']!r} is not a kernel module name")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        name = params["name"]
        canonical = name.replace("-", "_")
        load_conf = f"/etc/modules-load.d/{name}.conf"
        opts_conf = f"/etc/modprobe.d/{name}.conf"
        return [
            f"grep -q '^{canonical} ' /proc/modules && echo LOADED:1; "
            f"grep -qE '/{canonical}\\.ko' /lib/modules/$(uname -r)/modules.builtin 2>/dev/null"
            " && echo BUILTIN:1; "
            f"[ -e /lib/modules/$(uname -r) ] || echo NOMODULES:1; "
            f"printf 'LOADCONF:'; cat {shlex.quote(load_conf)} 2>/dev/null | tr '\\n' ' '; echo; "
            f"printf 'OPTSCONF:'; cat {shlex.quote(opts_conf)} 2>/dev/null | tr '\\n' ' '; echo; true"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> ModprobePlan:
        p = params
        name = p["name"]
        load_conf = f"/etc/modules-load.d/{name}.conf"
        opts_conf = f"/etc/modprobe.d/{name}.conf"
        (query,) = observed.values()
        fields = dict(line.partition(":")[::2] for line in query.stdout.splitlines() if ":" in line)
        loaded = "LOADED" in fields or "BUILTIN" in fields
        commands: list[str] = []
        if p["state"] == "present" and not loaded:
            commands.append(f"modprobe {shlex.quote(name)} {p['params']}".strip())
        elif p["state"] == "absent" and "LOADED" in fields:
            commands.append(f"modprobe -r {shlex.quote(name)}")
        if p["persistent"] == "present":
            if fields.get("LOADCONF", "").split() != [name]:
                commands.append(f"printf '%s\\n' {shlex.quote(name)} > {shlex.quote(load_conf)}")
            wanted_opts = f"options {name} {p['params']}".split() if p["params"] else []
            if fields.get("OPTSCONF", "").split() != wanted_opts:
                line = shlex.quote(" ".join(wanted_opts))
                commands.append(f"printf '%s\\n' {line} > {shlex.quote(opts_conf)}"
                                if wanted_opts else f"rm -f {shlex.quote(opts_conf)}")
        elif p["persistent"] == "absent" and (fields.get("LOADCONF", "").strip()
                                              or fields.get("OPTSCONF", "").strip()):
            commands.append(f"rm -f {shlex.quote(load_conf)} {shlex.quote(opts_conf)}")
        diff = [{"before": {"module": name, "loaded": loaded},
                 "after": {"module": name, "loaded": p["state"] == "present"}}] if commands else []
        return ModprobePlan(changed=bool(commands), commands=commands, diff=diff,
                            data={"name": name, "params": p["params"], "state": p["state"]},
                            no_modules="NOMODULES" in fields)

    def act(self, ctx: ModuleContext, plan: ModprobePlan) -> None:
        """The commands, joined with ``&&``; a refusal fails saying whether the host can load modules."""
        name = plan.data["name"]
        done = ctx.run(" && ".join(plan.commands))
        if done.rc != 0:
            hint = ""
            refused = ("Operation not permitted", "not found", "Read-only")
            if plan.no_modules or any(word in done.stderr for word in refused):
                hint = (" (this host cannot load kernel modules: in a container, load the module on the "
                        "machine itself)")
            raise ModuleFailed(f"modprobe: {name}: {done.stderr.strip()}{hint}", name=name, rc=done.rc)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return decide_then_act(self, ctx, args)


MODULE = ModprobeModule()
