"""ansible.builtin.blockinfile: a marker-delimited block of lines in a text file.

Pure edit ``apply_block``: the block sits between ``# BEGIN ANSIBLE MANAGED BLOCK`` and
``# END ANSIBLE MANAGED BLOCK`` (``marker``, ``marker_begin``, ``marker_end`` as in Ansible);
an existing block is replaced in place, a new one goes after the last ``insertafter`` match /
before the last ``insertbefore`` match (EOF/BOF keywords), an empty block or
``state: absent`` removes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared
from kprov.provision.modules.files.textedit import (
    TextEditPlan,
    act_text_edit,
    decide_text_edit,
    text_edit_result,
    text_probe,
)

__all__ = ["MODULE", "BlockInFileModule", "apply_block"]

SPEC = {
    "path": Arg(required=True, aliases=("dest", "destfile", "name")),
    "state": Arg(default="present", choices=("present", "absent")),
    "marker": Arg(default="# {mark} ANSIBLE MANAGED BLOCK"),
    "block": Arg(default="", aliases=("content",)),
    "insertafter": Arg(), "insertbefore": Arg(), "create": Arg("bool", default=False),
    "backup": Arg("bool", default=False), "marker_begin": Arg(default="BEGIN"),
    "marker_end": Arg(default="END"), "append_newline": Arg("bool", default=False),
    "prepend_newline": Arg("bool", default=False), "validate": Arg(), **FILE_ATTRS,
}


def apply_block(text: str, block: str, *, marker: str = "# {mark} ANSIBLE MANAGED BLOCK",
                marker_begin: str = "BEGIN", marker_end: str = "END", present: bool = True,
                insertafter: str | None = None, insertbefore: str | None = None) -> tuple[str, str]:
    begin = marker.replace("{mark}", marker_begin)
    end = marker.replace("{mark}", marker_end)
    lines = text.splitlines(keepends=True)
    wanted = [begin + "\n", *(line + "\n" for line in block.splitlines()), end + "\n"] \
        if present and block else []
    start = stop = None
    for number, line in enumerate(lines):
        if line.rstrip("\r\n") == begin:
            start = number
        if line.rstrip("\r\n") == end:
            stop = number
    if start is None or stop is None:
        if not wanted:
            return text, ""
        position: int | None = None
        if insertbefore is not None and insertbefore != "BOF":
            pattern = re.compile(insertbefore)
            position = next((n for n in range(len(lines) - 1, -1, -1) if pattern.search(lines[n])), None)
        elif insertbefore == "BOF":
            position = 0
        elif insertafter not in (None, "EOF"):
            pattern = re.compile(insertafter)
            hit = next((n for n in range(len(lines) - 1, -1, -1) if pattern.search(lines[n])), None)
            position = None if hit is None else hit + 1
        if position is None:
            position = len(lines)
        msg = "Block inserted"
    else:
        first, last = min(start, stop), max(start, stop)
        if lines[first:last + 1] == wanted:
            return text, ""
        del lines[first:last + 1]
        position = first
        msg = "Block removed" if not wanted else "Block inserted"
    if position > 0 and wanted and not lines[position - 1].endswith("\n"):
        lines[position - 1] += "\n"
    lines[position:position] = wanted
    return "".join(lines), msg


class BlockInFileModule(ModuleBase):
    name = "blockinfile"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        if p["insertafter"] is not None and p["insertbefore"] is not None:
            raise ModuleFailed("blockinfile: insertafter and insertbefore are mutually exclusive")
        if "{mark}" not in p["marker"]:
            raise ModuleFailed("blockinfile: argument 'marker' must contain {mark}")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [text_probe(params["path"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> TextEditPlan:
        p = params
        present = p["state"] == "present"

        def edit(text: str) -> tuple[str, str]:
            return apply_block(text, p["block"], marker=p["marker"], marker_begin=p["marker_begin"],
                               marker_end=p["marker_end"], present=present,
                               insertafter=p["insertafter"], insertbefore=p["insertbefore"])

        (probed,) = observed.values()
        plan = decide_text_edit(self.name, p["path"], probed, edit, create=p["create"], owner=p["owner"],
                                group=p["group"], mode=p["mode"], backup=p["backup"],
                                validate=p["validate"], absent_ok=not present)
        # ansible-core's messages where the file was missing: created, or nothing to remove from
        if not plan.exists and plan.content is not None:
            return replace(plan, msg="File created")
        if not plan.exists and not present:
            return replace(plan, msg=f"File {p['path']} not present")
        return plan

    def act(self, ctx: ModuleContext, plan: TextEditPlan) -> dict[str, Any]:
        return act_text_edit(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        return text_edit_result(ctx, self.decide(params, read_declared(self, ctx, params)), self.act)


MODULE = BlockInFileModule()
