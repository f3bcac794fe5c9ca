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

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

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
                insertafter: str | None = None, insertbefore: str | None = None,
                prepend_newline: bool = False, append_newline: bool = False) -> tuple[str, str]:
    """The text with the block put in (or taken out) and ansible-core's message ("" when the
    text is unchanged). As ansible-core: markers are whole ``\\n``-ended lines; the block's
    own line endings are kept (a ``\\r\\n`` block stays one), only a missing final newline is
    added; a new block goes after (before) the LAST line ``insertafter`` (``insertbefore``)
    matches, or where a ``(?m)`` pattern matches the whole text; an unmatched pattern means EOF."""
    begin = marker.replace("{mark}", marker_begin) + "\n"
    end = marker.replace("{mark}", marker_end) + "\n"
    lines = _lines(text)
    wanted: list[str] = []
    if present and block:
        wanted = [begin, *_lines(block if block.endswith("\n") else block + "\n"), end]
    start = stop = None
    for number, line in enumerate(lines):
        if line == begin:
            start = number
        if line == end:
            stop = number
    if start is None or stop is None:
        position = _insert_position(text, lines, insertafter, insertbefore)
    else:
        position = min(start, stop)
        del lines[position:max(start, stop) + 1]
    if position > 0 and not lines[position - 1].endswith("\n"):
        lines[position - 1] += "\n"
    if prepend_newline and present and position != 0 and lines[position - 1] != "\n":
        lines.insert(position, "\n")
        position += 1
    lines[position:position] = wanted
    after_block = position + len(wanted)
    if append_newline and present and after_block < len(lines) and lines[after_block] != "\n":
        lines.insert(after_block, "\n")
    result = "".join(lines)
    if result == text:
        return text, ""
    return result, "Block inserted" if wanted else "Block removed"


def _lines(text: str) -> list[str]:
    """Lines with their ends, split as bytes.splitlines splits (only at \\n, \\r\\n, \\r)."""
    return _LINE.findall(text)


def _insert_position(text: str, lines: list[str], insertafter: str | None, insertbefore: str | None) -> int:
    if insertafter is None and insertbefore is None:
        insertafter = "EOF"
    pattern = insertafter if insertafter not in (None, "EOF") else \
        insertbefore if insertbefore not in (None, "BOF") else None
    if pattern is None:
        return 0 if insertbefore is not None else len(lines)
    found = re.compile(pattern)
    hit: int | None = None
    if found.flags & re.MULTILINE:  # a (?m) pattern reads the whole text
        match = found.search(text)
        if match:
            hit = text.count("\n", 0, match.end() if insertafter else match.start())
    else:
        for number, line in enumerate(lines):
            if found.search(line):
                hit = number
    if hit is None:
        return len(lines)
    return hit + 1 if insertafter is not None else hit


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
                               insertafter=p["insertafter"], insertbefore=p["insertbefore"],
                               prepend_newline=p["prepend_newline"], append_newline=p["append_newline"])

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
