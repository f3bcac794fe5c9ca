"""Edit a remote text file through a pure function: the shared flow of lineinfile/blockinfile.

One command fetches state and content (base64) together; the edit is computed on the
controller by a pure function ``edit(lines_text) -> (new_text, msg)``; the file is written
(atomically, via placefile's writer) only if the text changed; attributes are then fixed.
"""

from __future__ import annotations

from collections.abc import Callable

from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult
from kprov.provision.modules.files.fileops import (
    attribute_commands,
    content_diff,
    probe,
    probe_script,
    resolve_mode,
    write_file,
)

__all__ = ["edit_text_file", "text_probe"]

Edit = Callable[[str], tuple[str, str]]


def text_probe(path: str) -> str:
    """The one probe of a text edit: the file's state and content (what ``edit_text_file`` reads)."""
    return probe_script(path, content=True, follow=True)


def edit_text_file(
    ctx: ModuleContext,
    module: str,
    path: str,
    edit: Edit,
    *,
    create: bool,
    backup: bool,
    owner: str | None,
    group: str | None,
    mode: int | str | None,
    validate: str | None,
    absent_ok: bool = False,
) -> ModuleResult:
    """Apply ``edit`` to ``path``'s text; ``absent_ok``: a missing file is fine (state=absent)."""
    state = probe(ctx, path, content=True, follow=True)
    if state.exists and state.kind != "file":
        raise ModuleFailed(f"{module}: path {path} is a {state.kind}, not a regular file", rc=256)
    if not state.exists:
        if absent_ok:
            return ModuleResult(changed=False, msg="file not present", data={"path": path, "found": 0})
        if not create:
            raise ModuleFailed(f"{module}: path {path} does not exist !", rc=257)
    before = (state.data or b"").decode("utf-8", "surrogateescape")
    after, msg = edit(before)
    content_changed = after != before or not state.exists
    wanted_mode = resolve_mode(mode, state.mode if state.exists else None, module=module)
    attr_commands = (attribute_commands(state, owner=owner, group=group, mode=wanted_mode)
                     if state.exists and not content_changed else [])
    changed = content_changed or bool(attr_commands)
    if attr_commands and not msg:
        msg = "ownership, perms or SE linux context changed"
    result = ModuleResult(changed=changed, msg=msg, data={"path": path})
    if ctx.diff and content_changed:
        result.diff.append(content_diff(path, state.data if state.exists else None,
                                        after.encode("utf-8", "surrogateescape")))
    if not changed or ctx.check_mode:
        return result
    if content_changed:
        backup_file = write_file(ctx, path, after.encode("utf-8", "surrogateescape"), mode=wanted_mode,
                                 owner=owner, group=group, backup=backup, exists=state.exists,
                                 validate=validate)
        if backup_file:
            result.data["backup"] = result.data["backup_file"] = backup_file
    else:
        fixed = ctx.run(" && ".join(attr_commands))
        if fixed.rc != 0:
            raise ModuleFailed(f"{module}: cannot set attributes of {path}: {fixed.stderr.strip()}")
    return result
