"""ansible.builtin.replace: replace every match of a regular expression in a file.

Three steps (modules.contract): the file probe (stat + content, following links) is the one
read; ``decide`` applies ``regexp``/``replace`` (Python ``re``, MULTILINE, so ``^``/``$`` are
per line, as Ansible's) to the part between the first ``after`` match and the next ``before``
match, and plans the new content and the owner/mode changes; ``act`` writes the file (with a
backup or a ``validate`` command when asked) and applies them. A missing file fails, as Ansible
says it (rc 257).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import (
    attribute_commands,
    content_diff,
    parse_probe,
    probe_script,
    resolve_mode,
    write_file,
)

__all__ = ["MODULE", "ReplaceModule"]


class ReplaceModule(ThreeStepModule):
    name = "replace"
    spec = {
        "path": Arg(required=True, aliases=("dest", "destfile", "name")),
        "regexp": Arg(required=True),
        "replace": Arg(default=""),
        "after": Arg(),
        "before": Arg(),
        "backup": Arg(type="bool", default=False),
        "encoding": Arg(default="utf-8"),
        "validate": Arg(),
        "mode": Arg(type="mode"),
        "owner": Arg(),
        "group": Arg(),
        "unsafe_writes": Arg(type="bool", default=False),
        "seuser": Arg(), "serole": Arg(), "setype": Arg(), "selevel": Arg(), "attributes": Arg(),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [probe_script(params["path"], content=True, follow=True)]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        path = params["path"]
        (probe,) = observed.values()
        state = parse_probe(path, probe.stdout)
        if not state.exists:
            return Plan(failed=f"Path {path} does not exist !", data={"rc": 257})
        if state.kind == "directory":
            return Plan(failed=f"Path {path} is a directory !", data={"rc": 256})
        text = (state.data or b"").decode(params["encoding"], "surrogateescape")
        start, end = 0, len(text)
        # ansible-core's window: one DOTALL pattern, the shortest between after and before
        after, before = params["after"], params["before"]
        pattern = (f"{after}(?P<subsection>.*?){before}" if after and before
                   else f"{after}(?P<subsection>.*)" if after
                   else f"(?P<subsection>.*){before}" if before else "")
        if pattern:
            window = re.search(pattern, text, re.DOTALL)
            if window is None:
                return Plan(data={"rc": 0, "_params": dict(params)},
                            msg=f"Pattern for before/after params did not match the given file: {pattern}")
            start, end = window.start("subsection"), window.end("subsection")
        try:
            section, count = re.subn(params["regexp"], params["replace"], text[start:end], flags=re.M)
        except re.error as err:  # a bad escape in ``replace`` (``\D``) too, matches or not
            return Plan(failed=f"Unable to process replace due to error: {err}")
        new = text[:start] + section + text[end:]
        data: dict[str, Any] = {"rc": 0}
        plan = Plan(data=data, msg=f"{count} replacements made" if new != text else "")
        if new != text:
            after = new.encode(params["encoding"], "surrogateescape")
            plan.files = {path: after.decode("utf-8", "surrogateescape")}
            plan.diff.append(content_diff(path, state.data, after))
            plan.changed = True
        mode = resolve_mode(params["mode"], state.mode, module=self.name)
        plan.commands = attribute_commands(state, owner=params["owner"], group=params["group"], mode=mode)
        if plan.commands and not plan.changed:
            plan.changed = True
            plan.msg = "ownership, perms or SE linux context changed"
        plan.data["_params"] = dict(params)
        return plan

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        params = plan.data.pop("_params")
        for path, content in plan.files.items():
            backup = write_file(ctx, path, content.encode("utf-8", "surrogateescape"), mode=None, owner=None,
                                group=None, backup=params["backup"], exists=True, validate=params["validate"])
            if backup:
                plan.data["backup_file"] = backup
        for command in plan.commands:
            done = ctx.run(command)
            if done.rc != 0:
                raise ModuleFailed(f"replace: `{command}` failed: {done.stderr.strip()}")

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> Any:
        result = super().run(ctx, args)
        result.data.pop("_params", None)
        return result


MODULE = ReplaceModule()
