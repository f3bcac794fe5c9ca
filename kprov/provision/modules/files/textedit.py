"""Edit a remote text file through a pure function: the shared flow of lineinfile, blockinfile
and ini_file, in the module contract's steps (modules.contract).

One probe (``text_probe``) fetches state and content (base64) together. ``decide_text_edit``
is the decision, pure: it applies the module's edit ``edit(text) -> (new_text, msg)`` to the
text read and returns a :class:`TextEditPlan` (the new bytes when the text changed, else the
attribute commands; the message and the content diff). ``act_text_edit`` is the only step
that touches the host: the file is written (atomically, via fileops' writer, after
``validate`` and ``backup``) when the text changed, else its attributes are fixed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult
from kprov.provision.modules.files.fileops import (
    attribute_commands,
    content_diff,
    parse_probe_result,
    probe_script,
    resolve_mode,
    write_file,
)

__all__ = ["TextEditPlan", "act_text_edit", "decide_text_edit", "text_edit_result", "text_probe"]

Edit = Callable[[str], tuple[str, str]]


def text_probe(path: str) -> str:
    """The one probe of a text edit: the file's state and content (what the decision reads)."""
    return probe_script(path, content=True, follow=True)


@dataclass(frozen=True)
class TextEditPlan:
    """A text edit decided: ``content`` to write (None: the text is unchanged), else the
    ``attribute_commands`` that fix owner/group/mode; what the task reports."""

    path: str
    changed: bool = False
    msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    content: bytes | None = None
    exists: bool = False
    mode: int | None = None
    attribute_commands: list[str] = field(default_factory=list)
    owner: str | None = None
    group: str | None = None
    backup: bool = False
    validate: str | None = None
    parent_dir: str | None = None  # made first when missing (ini_file creating its file)


def decide_text_edit(
    module: str,
    path: str,
    probed: CommandResult,
    edit: Edit,
    *,
    create: bool,
    owner: str | None,
    group: str | None,
    mode: int | str | None,
    backup: bool = False,
    validate: str | None = None,
    absent_ok: bool = False,
) -> TextEditPlan:
    """Apply ``edit`` to the text ``probed`` (``text_probe``) read; ``absent_ok``: a missing
    file is fine (state=absent). Raises ModuleFailed as the module fails."""
    state = parse_probe_result(path, probed)
    if state.exists and state.kind != "file":
        raise ModuleFailed(f"{module}: path {path} is a {state.kind}, not a regular file", rc=256)
    if not state.exists:
        if absent_ok:
            return TextEditPlan(path=path, msg="file not present", data={"path": path, "found": 0})
        if not create:
            raise ModuleFailed(f"{module}: path {path} does not exist !", rc=257)
    before = (state.data or b"").decode("utf-8", "surrogateescape")
    after, msg = edit(before)
    content_changed = after != before or not state.exists
    wanted_mode = resolve_mode(mode, state.mode if state.exists else None, module=module)
    attr_commands = (attribute_commands(state, owner=owner, group=group, mode=wanted_mode)
                     if state.exists and not content_changed else [])
    if attr_commands and not msg:
        msg = "ownership, perms or SE linux context changed"
    content = after.encode("utf-8", "surrogateescape") if content_changed else None
    diff = [content_diff(path, state.data if state.exists else None, content)] if content is not None else []
    # a file created where its folder is missing: the folder first (lineinfile's and
    # blockinfile's ``create``, as ansible-core makes the parents)
    parent = os.path.dirname(path) if not state.exists else ""
    return TextEditPlan(path=path, changed=content_changed or bool(attr_commands), msg=msg,
                        data={"path": path}, diff=diff, content=content, exists=state.exists,
                        mode=wanted_mode, attribute_commands=attr_commands, owner=owner, group=group,
                        backup=backup, validate=validate, parent_dir=shlex.quote(parent) if parent else None)


def act_text_edit(ctx: ModuleContext, module: str, plan: TextEditPlan) -> dict[str, Any]:
    """Carry a changing plan out; returns what the act adds to the result (the backup's name)."""
    if plan.content is not None:
        if plan.parent_dir is not None:
            ctx.run(f"test -d {plan.parent_dir} || mkdir -p {plan.parent_dir}")
        backup_file = write_file(ctx, plan.path, plan.content, mode=plan.mode, owner=plan.owner,
                                 group=plan.group, backup=plan.backup, exists=plan.exists,
                                 validate=plan.validate)
        return {"backup": backup_file, "backup_file": backup_file} if backup_file else {}
    fixed = ctx.run(" && ".join(plan.attribute_commands))
    if fixed.rc != 0:
        raise ModuleFailed(f"{module}: cannot set attributes of {plan.path}: {fixed.stderr.strip()}")
    return {}


def text_edit_result(ctx: ModuleContext, plan: TextEditPlan,
                     act: Callable[[ModuleContext, TextEditPlan], dict[str, Any]]) -> ModuleResult:
    """The task's result: the plan reported (its diff when the task shows diffs), ``act`` on
    it unless it changes nothing or the task runs in check mode."""
    result = ModuleResult(changed=plan.changed, msg=plan.msg, data=dict(plan.data),
                          diff=list(plan.diff) if ctx.diff else [])
    if plan.changed and not ctx.check_mode:
        result.data.update(act(ctx, plan))
    return result
