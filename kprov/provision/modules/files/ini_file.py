"""community.general.ini_file: one option (or a whole section) of an INI-style file.

Pure edit ``edit_ini`` with the collection's semantics: a section runs from its first
``[name]`` header to the next header (no ``section``: the lines before the first header); an
option line is ``option = value`` (``option=value`` with ``no_extra_spaces``), and a
commented ``#option`` / ``;option`` line counts as the option unless
``modify_inactive_option`` is off. ``state=present`` first rewrites lines whose value is
wanted, then (``exclusive``) reuses the other lines of the option for the values left and
drops the rest, then adds what is still missing after the section's last non-blank,
non-comment line; a missing section is appended at the end with its options. A file without
a trailing newline gets one, and an empty or new file starts with a blank line, as the
collection writes it. ``state=absent`` removes the option's active lines (only those with a
listed value when not ``exclusive``) or, without ``option``, the whole section. Left out:
``section_has_values``, ``ignore_spaces`` and ``follow`` (refused as unsupported).
"""

from __future__ import annotations

import os.path
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
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

__all__ = ["MODULE", "IniEdit", "IniFileModule", "edit_ini"]

SPEC = {
    "path": Arg(required=True, aliases=("dest",)),
    "section": Arg(),
    "option": Arg(),
    "value": Arg(),
    "values": Arg("list"),
    "backup": Arg("bool", default=False),
    "state": Arg(default="present", choices=("absent", "present")),
    "exclusive": Arg("bool", default=True),
    "no_extra_spaces": Arg("bool", default=False),
    "allow_no_value": Arg("bool", default=False),
    "modify_inactive_option": Arg("bool", default=True),
    "create": Arg("bool", default=True),
    **FILE_ATTRS,
}
_UNSUPPORTED = ("section_has_values", "ignore_spaces", "follow")


@dataclass(frozen=True)
class IniEdit:
    section: str | None
    option: str | None
    values: tuple[str, ...]
    present: bool = True
    exclusive: bool = True
    no_extra_spaces: bool = False
    allow_no_value: bool = False
    modify_inactive_option: bool = True


def _option_pattern(option: str, inactive_too: bool) -> re.Pattern[str]:
    comment = r"[#;]?" if inactive_too else ""
    return re.compile(rf"[ \t]*({comment})[ \t]*{re.escape(option)}[ \t]*(?:=|$)[ \t]*(.*)")


def _section_bounds(lines: list[str], section: str | None) -> tuple[int, int] | None:
    """[start, end) of the section's lines, its header included; None when it is absent."""
    if not section:
        first_header = next((n for n, line in enumerate(lines) if line.startswith("[")), len(lines))
        return 0, first_header
    header = re.compile(rf"\[\s*{re.escape(section.strip())}\s*]")
    for start, line in enumerate(lines):
        if header.match(line):
            end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("[")), len(lines))
            return start, end
    return None


def edit_ini(text: str, want: IniEdit) -> tuple[str, str]:
    """(new text, message) for ``want`` applied to ``text``; the text is unchanged when nothing is to do."""
    lines = text.splitlines(keepends=True) or ["\n"]
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    msg = "OK"
    values = list(dict.fromkeys(want.values))
    line_of = _line_maker(want)
    bounds = _section_bounds(lines, want.section)
    start, end = bounds if bounds else (len(lines), len(lines))
    # body[0] is the section's header; the lines before the first header get a stand-in one
    body = ([] if want.section else ["[]"]) + lines[start:end] if bounds else []
    if want.present and want.option:
        msg = _set_option(body, want, want.option, values, line_of)
    elif not want.present and body:
        body, msg = _remove(body, want, values)
    new_lines = lines[:start] + (body if want.section else body[1:]) + lines[end:] if bounds else list(lines)
    if bounds is None and want.present and want.section:
        new_lines.append(f"[{want.section}]\n")
        if want.option and values:
            new_lines += [line_of(v) for v in values]
            msg = "section and option added"
        elif want.option and want.allow_no_value:
            new_lines.append(f"{want.option}\n")
            msg = "section and option added"
        else:
            msg = "only section added"
    new_text = "".join(new_lines)
    return (text, msg) if not text and new_text == "\n" else (new_text, msg)


def _line_maker(want: IniEdit) -> Callable[[str], str]:
    """How an option's line is written: ``option=value`` or ``option = value``."""
    if want.no_extra_spaces:
        return lambda v: f"{want.option}={v}\n"
    return lambda v: f"{want.option} = {v}\n"


def _set_option(
    body: list[str], want: IniEdit, name: str, values: list[str], line_of: Callable[[str], str]
) -> str:
    """Make the option ``name`` hold ``values`` in the section ``body`` (edited in place): lines
    that already hold a wanted value are kept, with exclusive the others are reused then
    dropped, and what is still missing is added after the section's last meaningful line.
    ``values`` is left with the values that were not placed. Returns the message."""
    msg = "OK"
    touched = [False] * len(body)

    def replace(index: int, new: str) -> None:
        nonlocal msg
        if body[index] != new:
            body[index] = new
            msg = "option changed"
        touched[index] = True

    option = _option_pattern(name, want.modify_inactive_option)
    for index in range(1, len(body)):
        found = option.match(body[index])
        if not found:
            continue
        current = found.group(2)
        if values and current in values:
            replace(index, f"{want.option}\n" if not current and want.allow_no_value else line_of(current))
            values.remove(current)
        elif not values and want.allow_no_value:
            replace(index, f"{want.option}\n")
            break
    if want.exclusive and not want.allow_no_value:
        for index in range(1, len(body)):
            if values and not touched[index] and option.match(body[index]):
                replace(index, line_of(values.pop(0)))
        for index in range(len(body) - 1, 0, -1):
            if not touched[index] and option.match(body[index]):
                del body[index]
                del touched[index]
                msg = "option changed"
    if body:
        meaningful = re.compile(r"[ \t]*([#;].*)?$")
        at = next(
            n for n in range(len(body), 0, -1) if n == 1 or not meaningful.match(body[n - 1].rstrip("\n"))
        )
        added = [line_of(v) for v in values]
        if not values and want.allow_no_value and not any(touched):
            added = [f"{want.option}\n"]
        if added:
            body[at:at] = added
            msg = "option added"
    return msg


def _remove(body: list[str], want: IniEdit, values: list[str]) -> tuple[list[str], str]:
    """The section ``body`` without ``want.option``'s active lines (those holding ``values``
    unless exclusive), or without the whole section when no option is named; and the message."""
    if want.option:
        active = _option_pattern(want.option, False)
        kept = [
            line
            for n, line in enumerate(body)
            if n == 0
            or not (found := active.match(line))
            or (not want.exclusive and found.group(2) not in values)
        ]
        if len(kept) != len(body):
            return kept, "option changed"
    elif want.section:
        return [], "section removed"
    return body, "OK"


class IniFileModule(ModuleBase):
    name = "ini_file"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        for unsupported in _UNSUPPORTED:
            if args.get(unsupported):
                raise ModuleFailed(f"ini_file: unsupported parameter {unsupported} (kprov)")
        p = parse_args(self.name, SPEC, {k: v for k, v in args.items() if k not in _UNSUPPORTED})
        if p["value"] is not None and p["values"] is not None:
            raise ModuleFailed("ini_file: parameters are mutually exclusive: value|values")
        if p["state"] == "present" and not p["allow_no_value"] and p["value"] is None and not p["values"]:
            raise ModuleFailed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False."
            )
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [text_probe(params["path"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> TextEditPlan:
        p = params
        present = p["state"] == "present"
        values = (
            [p["value"]] if p["value"] is not None else [str(v) for v in p["values"] or [] if v is not None]
        )
        want = IniEdit(
            section=p["section"],
            option=p["option"],
            values=tuple(values),
            present=present,
            exclusive=p["exclusive"],
            no_extra_spaces=p["no_extra_spaces"],
            allow_no_value=p["allow_no_value"],
            modify_inactive_option=p["modify_inactive_option"],
        )
        (probed,) = observed.values()
        plan = decide_text_edit(
            self.name,
            p["path"],
            probed,
            lambda text: edit_ini(text, want),
            create=p["create"],
            backup=p["backup"],
            owner=p["owner"],
            group=p["group"],
            mode=p["mode"],
            validate=None,
            absent_ok=not present,
        )
        # a new file's directory is made first, as the collection makes it
        parent = shlex.quote(os.path.dirname(p["path"]) or ".") if present and not plan.exists else None
        return replace(plan, msg=plan.msg or "OK", parent_dir=parent)

    def act(self, ctx: ModuleContext, plan: TextEditPlan) -> dict[str, Any]:
        return act_text_edit(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        return text_edit_result(ctx, self.decide(params, read_declared(self, ctx, params)), self.act)


MODULE = IniFileModule()
