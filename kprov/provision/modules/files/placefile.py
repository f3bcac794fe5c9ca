"""Make a remote file hold given bytes with given attributes: the core of copy and template.

One probe (existence, sha1, owner, group, mode) decides; the bytes travel only when the
checksum differs; attributes alone are fixed with chown/chmod; check mode reports and stops.
The bytes may be given as a function (a file's reading): it is called only once the probe
says they are needed (a template renders before, so its error fails before the host is
touched). ``place_probe`` is the probe, which copy and template declare (modules.contract).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable

from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult
from kprov.provision.modules.files.fileops import (
    attribute_commands,
    content_diff,
    mode_string,
    probe,
    probe_script,
    resolve_mode,
    state_diff,
    write_file,
)

__all__ = ["MAX_DIFF_BYTES", "place_file", "place_probe", "placed_path"]

MAX_DIFF_BYTES = 104448  # Ansible's default max_diff_size


def placed_path(dest: str, src_name: str | None) -> str:
    """Where the file goes: ``dest``, or ``dest/src_name`` when dest names a directory (ends in /)."""
    return posixpath.join(dest, src_name) if src_name and dest.endswith("/") else dest


def place_probe(dest: str) -> str:
    """The one probe placing a file reads: the destination's state and checksum."""
    return probe_script(dest, checksum=True, follow=True)


def place_file(
    ctx: ModuleContext,
    module: str,
    dest: str,
    content: bytes | Callable[[], bytes],
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    backup: bool = False,
    force: bool = True,
    validate: str | None = None,
    src_name: str | None = None,
    digest: tuple[str, int] | None = None,
) -> ModuleResult:
    """Ensure ``dest`` (or ``dest/src_name`` when dest is a directory) holds ``content``.

    ``digest``: the content's (sha1, size) when the caller knows them (a controller file the
    run has hashed): ``content`` is then read only when the file must be written or diffed."""
    dest = placed_path(dest, src_name)
    state = probe(ctx, dest, checksum=True, follow=True)
    if state.kind == "directory":
        if not src_name:
            raise ModuleFailed(f"{module}: dest {dest} is a directory; give a file path")
        dest = posixpath.join(dest, src_name)
        state = probe(ctx, dest, checksum=True, follow=True)
    if state.exists and state.kind != "file":
        raise ModuleFailed(f"{module}: dest {dest} exists and is a {state.kind}, not a regular file")
    data: bytes | None = None
    if digest is not None:
        checksum, size = digest
    else:
        data = content() if callable(content) else content
        checksum, size = hashlib.sha1(data).hexdigest(), len(data)
    content_changed = not state.exists or (force and state.checksum != checksum)
    if content_changed and data is None:
        data = content() if callable(content) else content
    wanted_mode = resolve_mode(mode, state.mode if state.exists else None, module=module)
    attr_commands = [] if content_changed else attribute_commands(state, owner=owner, group=group,
                                                                   mode=wanted_mode)
    changed = content_changed or bool(attr_commands)
    final_mode = wanted_mode if wanted_mode is not None else (state.mode if state.exists else 0o644)
    result = ModuleResult(changed=changed, data={
        "dest": dest, "checksum": checksum, "size": size, "state": "file",
        "mode": mode_string(final_mode), "owner": owner or state.owner or None,
        "group": group or state.group or None,
    })
    if state.exists and not changed:
        result.data.update(uid=state.uid, gid=state.gid)
    if ctx.diff and changed:
        if content_changed:
            assert data is not None  # read above: the content changed
            if max(state.size, size) > MAX_DIFF_BYTES:
                too_large = "(file too large to diff)"
                result.diff.append({"before_header": dest, "after_header": dest,
                                    "before": too_large, "after": too_large})
            else:
                before = ctx.get(dest) if state.exists else None
                result.diff.append(content_diff(dest, before, data))
        else:
            before_attrs = {"owner": state.owner, "group": state.group, "mode": mode_string(state.mode)}
            after_attrs = {"owner": owner or state.owner, "group": group or state.group,
                           "mode": mode_string(final_mode)}
            result.diff.append(state_diff(dest, before_attrs, after_attrs))
    if not changed or ctx.check_mode:
        return result
    if content_changed:
        assert data is not None
        backup_file = write_file(ctx, dest, data, mode=wanted_mode, owner=owner, group=group,
                                 backup=backup, exists=state.exists, validate=validate)
        if backup_file:
            result.data["backup_file"] = backup_file
    else:
        fixed = ctx.run(" && ".join(attr_commands))
        if fixed.rc != 0:
            raise ModuleFailed(f"{module}: cannot set attributes of {dest}: {fixed.stderr.strip()}")
    return result
