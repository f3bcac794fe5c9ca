"""ansible.builtin.lineinfile: ensure one line is present (or lines absent) in a text file.

The edit is a pure function of the file text (``ensure_line`` / ``remove_lines``) following
Ansible's rules: ``regexp``/``search_string`` pick the line to replace (the last match, or the
first with ``firstmatch``), ``insertafter``/``insertbefore`` (regex, EOF, BOF) place a new line,
``backrefs`` expands groups and never adds a line when the regexp does not match.
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

__all__ = ["MODULE", "LineInFileModule", "ensure_line", "remove_lines"]

SPEC = {
    "path": Arg(required=True, aliases=("dest", "destfile", "name")),
    "regexp": Arg(aliases=("regex",)), "search_string": Arg(),
    "state": Arg(default="present", choices=("present", "absent")),
    "line": Arg(aliases=("value",)), "backrefs": Arg("bool", default=False),
    "insertafter": Arg(), "insertbefore": Arg(), "create": Arg("bool", default=False),
    "backup": Arg("bool", default=False), "firstmatch": Arg("bool", default=False),
    "validate": Arg(), **FILE_ATTRS,
}


def _split(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def ensure_line(text: str, line: str, *, regexp: str | None = None, search_string: str | None = None,
                insertafter: str | None = None, insertbefore: str | None = None,
                backrefs: bool = False, firstmatch: bool = False) -> tuple[str, str]:
    lines = _split(text)
    matcher = re.compile(regexp) if regexp is not None else None
    if insertafter not in (None, "BOF", "EOF"):
        insert_re: re.Pattern[str] | None = re.compile(insertafter)
    elif insertbefore not in (None, "BOF"):
        insert_re = re.compile(insertbefore)
    else:
        insert_re = None
    found, insert_at = -1, -1
    match: re.Match[str] | None = None
    exact_at = -1
    hit: re.Match[str] | bool | None
    for number, current in enumerate(lines):
        bare = current.rstrip("\r\n")
        if matcher is not None:
            hit = matcher.search(current)
            if hit:
                match = hit
        elif search_string is not None:
            hit = search_string in current
        else:
            hit = bare == line
        if bare == line and exact_at == -1:
            exact_at = number
        if hit:
            found = number
            if firstmatch:
                break
        elif insert_re is not None and insert_re.search(current):
            insert_at = number + 1 if insertafter else number
            if firstmatch:
                break
    if found != -1:
        new = match.expand(line) if backrefs and match else line
        if lines[found].rstrip("\r\n") == new:
            return text, ""
        ending = lines[found][len(lines[found].rstrip("\r\n")):] or "\n"
        lines[found] = new + ending
        return "".join(lines), "line replaced"
    if backrefs:
        return text, ""
    if exact_at != -1 and (matcher is not None or search_string is not None):
        return text, ""  # the exact line is already there; regexp found nothing else to replace
    added = line + "\n"
    if insertbefore == "BOF" or insertafter == "BOF":
        lines.insert(0, added)
    elif insertafter == "EOF" or insert_at == -1:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        lines.append(added)
    elif insertafter:
        if insert_at == len(lines):
            if lines[insert_at - 1].rstrip("\r\n") == line:
                return text, ""
            if not lines[-1].endswith(("\n", "\r")):
                lines[-1] += "\n"
            lines.append(added)
        elif lines[insert_at].rstrip("\r\n") == line:
            return text, ""
        else:
            lines.insert(insert_at, added)
    else:
        if insert_at > 0 and lines[insert_at - 1].rstrip("\r\n") == line:
            return text, ""
        lines.insert(insert_at, added)
    return "".join(lines), "line added"


def remove_lines(text: str, *, line: str | None = None, regexp: str | None = None,
                 search_string: str | None = None) -> tuple[str, str, int]:
    matcher = re.compile(regexp) if regexp is not None else None
    kept, removed = [], 0
    for current in _split(text):
        if matcher is not None:
            hit = bool(matcher.search(current))
        elif search_string is not None:
            hit = search_string in current
        else:
            hit = current.rstrip("\r\n") == line
        if hit:
            removed += 1
        else:
            kept.append(current)
    return "".join(kept), (f"{removed} line(s) removed" if removed else ""), removed


class LineInFileModule(ModuleBase):
    name = "lineinfile"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        for pattern_name in ("regexp", "insertafter", "insertbefore"):
            pattern = p[pattern_name]
            if pattern is not None and pattern not in ("BOF", "EOF"):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    message = f"lineinfile: argument {pattern_name!r}: bad regex {pattern!r}: {exc}"
                    raise ModuleFailed(message) from exc
        if p["insertafter"] is not None and p["insertbefore"] is not None:
            raise ModuleFailed("lineinfile: insertafter and insertbefore are mutually exclusive")
        if p["regexp"] is not None and p["search_string"] is not None:
            raise ModuleFailed("lineinfile: regexp and search_string are mutually exclusive")
        if p["state"] == "present":
            if p["line"] is None:
                raise ModuleFailed("lineinfile: line is required with state=present")
            if p["backrefs"] and p["regexp"] is None:
                raise ModuleFailed("lineinfile: regexp is required with backrefs=true")
        elif p["line"] is None and p["regexp"] is None and p["search_string"] is None:
            raise ModuleFailed("lineinfile: one of line, regexp or search_string is required with "
                               "state=absent")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [text_probe(params["path"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> TextEditPlan:
        p = params
        found: list[int] = []
        if p["state"] == "present":
            def edit(text: str) -> tuple[str, str]:
                return ensure_line(text, p["line"], regexp=p["regexp"], search_string=p["search_string"],
                                   insertafter=p["insertafter"], insertbefore=p["insertbefore"],
                                   backrefs=p["backrefs"], firstmatch=p["firstmatch"])
        else:
            def edit(text: str) -> tuple[str, str]:
                new, msg, count = remove_lines(text, line=p["line"], regexp=p["regexp"],
                                               search_string=p["search_string"])
                found.append(count)
                return new, msg
        (probed,) = observed.values()
        plan = decide_text_edit(self.name, p["path"], probed, edit, create=p["create"], owner=p["owner"],
                                group=p["group"], mode=p["mode"], backup=p["backup"],
                                validate=p["validate"], absent_ok=p["state"] == "absent")
        if p["state"] == "absent":
            return replace(plan, data={**plan.data, "found": found[0] if found else 0})
        return plan

    def act(self, ctx: ModuleContext, plan: TextEditPlan) -> dict[str, Any]:
        return act_text_edit(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        return text_edit_result(ctx, self.decide(params, read_declared(self, ctx, params)), self.act)


MODULE = LineInFileModule()
