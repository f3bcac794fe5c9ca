"""Make a remote file hold given bytes with given attributes: the core of copy and template,
in the module contract's steps (modules.contract).

One probe (``place_probe``: existence, sha1, owner, group, mode) decides; the bytes travel
only when the checksum differs; attributes alone are fixed with chown/chmod; check mode
reports and stops. The decision (``placement``, each module's ``decide``) is pure and in two
parts: ``target_state`` reads the probe for the destination (or names the probe of the path
inside it when dest is a directory), ``decide_placement`` compares that state with the
content's sha1 and size and returns a frozen :class:`Placement`. ``plan_placement`` conducts
the reads with the module's decide and returns the final Placement, changing nothing; it
keeps three reads that depend on what was decided where they were: the probe of
``dest/NAME`` when dest turns out to be a directory, the bytes (given as a function, a
file's reading: called only once the probe says they are needed, or to hash them when
their digest is not known: a remote src), and the destination's old bytes for a content
diff (only when the task shows diffs and the content changes). ``act_placement`` (each
module's ``act``, through ``contract.carry_out``) is the only step that changes the host.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import ModuleContext, ModuleFailed
from kprov.provision.modules.files.fileops import (
    FileState,
    attribute_commands,
    content_diff,
    mode_string,
    parse_probe_result,
    probe_script,
    resolve_mode,
    state_diff,
    write_file,
)

__all__ = [
    "MAX_DIFF_BYTES", "Decide", "PlaceOptions", "Placement", "act_placement", "decide_placement",
    "place_probe", "placed_path", "placement", "plan_placement", "target_state",
]

MAX_DIFF_BYTES = 104448  # Ansible's default max_diff_size
_TOO_LARGE = "(file too large to diff)"


def placed_path(dest: str, src_name: str | None) -> str:
    """Where the file goes: ``dest``, or ``dest/src_name`` when dest names a directory (ends in /)."""
    return posixpath.join(dest, src_name) if src_name and dest.endswith("/") else dest


def place_probe(dest: str) -> str:
    """The one probe placing a file reads: the destination's state and checksum."""
    return probe_script(dest, checksum=True, follow=True)


@dataclass(frozen=True)
class PlaceOptions:
    """The task's wishes for the placed file besides its bytes."""

    owner: str | None = None
    group: str | None = None
    mode: int | str | None = None
    backup: bool = False
    force: bool = True
    validate: str | None = None


@dataclass(frozen=True)
class Placement:
    """A placement decided: ``write`` the bytes (when their checksum differs or the file is
    new), else run ``attribute_commands``; what the task reports (``data``, and ``diff``
    unless the content diff needs the old bytes: ``diff_reads_before``). ``plan_placement``
    adds the bytes to write (``content``) and the content diff."""

    dest: str
    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    diff_reads_before: bool = False
    write: bool = False
    exists: bool = False
    mode: int | None = None
    attribute_commands: list[str] = field(default_factory=list)
    options: PlaceOptions = PlaceOptions()
    reads: str | None = None  # dest is a directory: this probe (of dest/NAME) first
    needs_digest: bool = False  # the content's sha1 and size first (a remote src, read now)
    content: bytes | None = field(default=None, repr=False)  # the bytes to write (plan_placement)


Decide = Callable[[Mapping[str, CommandResult], "tuple[str, int] | None"], Placement]


def placement(module: str, dest: str, observed: Mapping[str, CommandResult], src_name: str | None,
              digest: tuple[str, int] | None, options: PlaceOptions) -> Placement:
    """The whole decision: the target's state (``target_state``), then, with the content's
    ``digest``, ``decide_placement``; a placement that ``reads`` a probe or ``needs_digest``
    while either is missing."""
    state = target_state(module, dest, observed, src_name)
    if isinstance(state, str):
        return Placement(dest=state, reads=place_probe(state))
    if digest is None:
        return Placement(dest=state.path, needs_digest=True)
    return decide_placement(module, state, *digest, options)


def target_state(module: str, dest: str, observed: Mapping[str, CommandResult],
                 src_name: str | None) -> FileState | str:
    """The state of the file to place, from the probe results ``observed`` (by command): of
    ``dest``, or of ``dest/src_name`` when dest is a directory; when that probe is not among
    them yet, its path (the caller probes it and asks again). Raises as the module fails."""
    state = parse_probe_result(dest, observed[place_probe(dest)])
    if state.kind == "directory":
        if not src_name:
            raise ModuleFailed(f"{module}: dest {dest} is a directory; give a file path")
        dest = posixpath.join(dest, src_name)
        if place_probe(dest) not in observed:
            return dest
        state = parse_probe_result(dest, observed[place_probe(dest)])
    if state.exists and state.kind != "file":
        raise ModuleFailed(f"{module}: dest {dest} exists and is a {state.kind}, not a regular file")
    return state


def decide_placement(module: str, state: FileState, checksum: str, size: int,
                     options: PlaceOptions) -> Placement:
    """Whether the file at ``state`` must change to hold bytes of this sha1 and size, and how."""
    dest = state.path
    content_changed = not state.exists or (options.force and state.checksum != checksum)
    wanted_mode = resolve_mode(options.mode, state.mode if state.exists else None, module=module)
    # force: false on an existing file leaves it alone, attributes too (ansible-core's copy
    # action returns before it runs any module there)
    attr_commands = [] if content_changed or not options.force else attribute_commands(
        state, owner=options.owner, group=options.group, mode=wanted_mode)
    changed = content_changed or bool(attr_commands)
    final_mode = wanted_mode if wanted_mode is not None else (state.mode if state.exists else 0o644)
    data: dict[str, Any] = {
        "dest": dest, "checksum": checksum, "size": size, "state": "file",
        "mode": mode_string(final_mode), "owner": options.owner or state.owner or None,
        "group": options.group or state.group or None,
    }
    if state.exists and not changed:
        data.update(uid=state.uid, gid=state.gid)
    diff: list[dict[str, Any]] = []
    reads_before = False
    if content_changed and max(state.size, size) > MAX_DIFF_BYTES:
        diff.append({"before_header": dest, "after_header": dest, "before": _TOO_LARGE, "after": _TOO_LARGE})
    elif content_changed:
        reads_before = True
    elif changed:
        before_attrs = {"owner": state.owner, "group": state.group, "mode": mode_string(state.mode)}
        after_attrs = {"owner": options.owner or state.owner, "group": options.group or state.group,
                       "mode": mode_string(final_mode)}
        diff.append(state_diff(dest, before_attrs, after_attrs))
    return Placement(dest=dest, changed=changed, data=data, diff=diff, diff_reads_before=reads_before,
                     write=content_changed, exists=state.exists, mode=wanted_mode,
                     attribute_commands=attr_commands, options=options)


def act_placement(ctx: ModuleContext, module: str, plan: Placement) -> dict[str, Any]:
    """Carry a changing placement out (writing ``plan.content``, when it writes); returns what
    the act adds to the result (the backup's name)."""
    options = plan.options
    if plan.write:
        assert plan.content is not None  # plan_placement read it: the plan writes
        backup_file = write_file(ctx, plan.dest, plan.content, mode=plan.mode, owner=options.owner,
                                 group=options.group, backup=options.backup, exists=plan.exists,
                                 validate=options.validate)
        return {"backup_file": backup_file} if backup_file else {}
    fixed = ctx.run(" && ".join(plan.attribute_commands))
    if fixed.rc != 0:
        raise ModuleFailed(f"{module}: cannot set attributes of {plan.dest}: {fixed.stderr.strip()}")
    return {}


def plan_placement(
    ctx: ModuleContext,
    dest: str,
    content: bytes | Callable[[], bytes],
    decide: Decide,
    *,
    src_name: str | None = None,
    digest: tuple[str, int] | None = None,
) -> Placement:
    """How ``dest`` (or ``dest/src_name`` when dest is a directory) comes to hold ``content``,
    as the module's ``decide`` (probe results and the content's digest -> Placement) says,
    with the reads that depend on it made: the final Placement, with the bytes to write and
    the content diff (when the task shows diffs). Changes nothing: the module's ``act`` does.

    ``digest``: the content's (sha1, size) when the caller knows them (a controller file the
    run has hashed): ``content`` is then read only when the file must be written or diffed."""
    dest = placed_path(dest, src_name)
    observed = {place_probe(dest): ctx.probe(place_probe(dest))}
    plan = decide(observed, digest)
    if plan.reads is not None:  # dest is a directory: the file goes inside it
        observed[plan.reads] = ctx.probe(plan.reads)
        plan = decide(observed, digest)
    data: bytes | None = None
    if plan.needs_digest:
        data = content() if callable(content) else content
        plan = decide(observed, (hashlib.sha1(data).hexdigest(), len(data)))
    if plan.write and data is None:
        data = content() if callable(content) else content
    plan = replace(plan, content=data if plan.write else None)
    if ctx.diff and plan.changed and plan.diff_reads_before:
        assert data is not None  # read above: the content changed
        before = ctx.get(plan.dest) if plan.exists else None
        plan = replace(plan, diff=[*plan.diff, content_diff(plan.dest, before, data)],
                       diff_reads_before=False)
    return plan
