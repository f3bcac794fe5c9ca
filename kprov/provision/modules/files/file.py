"""ansible.builtin.file: directories, links, removal, touch, and owner/group/mode.

One probe decides; the changing commands and a fresh probe run as one script, so the return
values (``path``, ``state``, ``mode``, ``owner``, ...) describe the real result. In the module
contract's steps: ``decide`` is pure (probe results in, a frozen ``FilePlan`` out), ``act``
runs the script. A hard link also reads its source's state: that probe's path is known only
once the link is decided on, so ``run`` reads it live between two ``decide`` calls. ``recurse``
(directories) checks the whole tree with one ``find`` for anything off. The time options
(``modification_time``/``access_time``: preserve, now or a given time) are modules.filetimes.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared
from kprov.provision.modules.files.fileops import (
    FileState,
    attribute_commands,
    file_return,
    mode_string,
    parse_probe,
    parse_probe_result,
    probe_script,
    resolve_mode,
    state_diff,
)
from kprov.provision.modules.files.filetimes import parse_times, requested_times, time_commands, times_probe

__all__ = ["MODULE", "FileModule"]

SPEC = {
    "path": Arg(required=True, aliases=("dest", "name")),
    "state": Arg(choices=("absent", "directory", "file", "hard", "link", "touch")),
    "src": Arg(), "recurse": Arg("bool", default=False), "force": Arg("bool", default=False),
    "follow": Arg("bool", default=True), "modification_time": Arg(), "access_time": Arg(),
    "modification_time_format": Arg(default="%Y%m%d%H%M.%S"),
    "access_time_format": Arg(default="%Y%m%d%H%M.%S"),
    **FILE_ATTRS,
}


def _recurse_check(path: str, owner: str | None, group: str | None, mode: int | None) -> str:
    """A find that prints the first entry under ``path`` whose owner/group/mode is off (none
    when the path is not there yet: ``recurse`` onto a directory the task creates)."""
    tests = []
    if owner is not None:
        tests.append(f"! -user {shlex.quote(owner)}")
    if group is not None:
        tests.append(f"! -group {shlex.quote(group)}")
    if mode is not None:
        tests.append(f"! -perm {mode_string(mode)}")
    if not tests:
        return ""
    quoted = shlex.quote(path)
    return (f"; if [ -e {quoted} ]; then find {quoted} \\( {' -o '.join(tests)} \\) "
            f"-printf 'OFF:%p\\n' -quit; fi")


def _recurse_commands(path: str, owner: str | None, group: str | None, mode: int | None) -> list[str]:
    p = shlex.quote(path)
    commands = []
    if owner is not None or group is not None:
        spec = (owner or "") + (f":{group}" if group is not None else "")
        commands.append(f"chown -R {shlex.quote(spec)} -- {p}")
    if mode is not None:
        commands.append(f"chmod -R {mode_string(mode)} -- {p}")
    return commands


@dataclass(frozen=True)
class FilePlan:
    """What the file task decided: the ``commands`` that change the path (none: nothing to
    do), the result's data and diff as the path stands, or a probe to read first (``reads``)."""

    path: str
    wanted: str
    changed: bool = False
    commands: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    exists: bool = False
    link_src: str | None = None
    reads: str | None = None


class FileModule(ModuleBase):
    name = "file"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """One probe: the path's state, with ``recurse`` the first entry off under it, and the
        times the time options compare with."""
        p = dict(params)
        path = p["path"]
        mode_text = str(p["mode"]).strip() if p["mode"] is not None else ""
        numeric_mode = resolve_mode(p["mode"], None) if mode_text.isdigit() else None  # recurse: octal only
        extra = _recurse_check(path, p["owner"], p["group"], numeric_mode) if p["recurse"] else ""
        times = requested_times(p, p["state"] or "")  # an unset state is never touch
        time_probe = times_probe(path, times, recurse=p["recurse"])
        extra += f"; {time_probe}" if time_probe else ""
        return [probe_script(path, follow=p["follow"] and p["state"] != "link") + extra]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> FilePlan:
        """The commands that make the path what is wanted, from the declared probe's result
        (the first of ``observed``) and, for a hard link, its source's probe: a plan naming
        that probe (``reads``) when it is not among them yet."""
        p = dict(params)
        path = p["path"]
        owner, group = p["owner"], p["group"]
        times = requested_times(p, p["state"] or "")
        result = next(iter(observed.values()))
        if result.rc != 0:
            raise ModuleFailed(f"file: cannot inspect {path}: {result.stderr.strip()}")
        state = parse_probe(path, result.stdout)
        tree_off = "\nOFF:" in f"\n{result.stdout}"
        wanted = p["state"] or self._default_state(p, state)
        before = self._summary(state)
        commands: list[str] = []
        if wanted == "absent":
            if state.exists:
                commands.append(f"rm -rf -- {shlex.quote(path)}")
        elif wanted == "file":
            if not state.exists:
                raise ModuleFailed(f"file ({path}) is absent, cannot continue", path=path, state="absent")
            if state.kind == "directory":
                raise ModuleFailed(f"file ({path}) is a directory, not a file", path=path)
        elif wanted == "directory":
            if state.exists and state.kind != "directory":
                raise ModuleFailed(f"{path} already exists as a {state.kind}", path=path)
            if not state.exists:
                commands.append(f"mkdir -p -- {shlex.quote(path)}")
        elif wanted in ("link", "hard"):
            link = self._link_commands(p, state, wanted, observed)
            if isinstance(link, str):
                return FilePlan(path=path, wanted=wanted, reads=link)
            commands += link
        elif wanted == "touch" and not state.exists:
            commands.append(f"touch -- {shlex.quote(path)}")
        if wanted != "absent":
            current = state if state.exists and not commands else None
            mode = resolve_mode(p["mode"], current.mode if current else None,
                                is_dir=wanted == "directory", module=self.name)
            if current is not None:
                commands += attribute_commands(current, owner=owner, group=group, mode=mode,
                                               follow=wanted != "link")
            else:
                target = FileState(path=path, exists=True, kind=wanted if wanted != "touch" else "file")
                commands += attribute_commands(target, owner=owner, group=group, mode=mode,
                                               follow=wanted != "link")
            if p["recurse"] and wanted == "directory" and (tree_off or not state.exists):
                commands += _recurse_commands(path, owner, group, mode)
            commands += time_commands(path, times, parse_times(result.stdout), existed=state.exists,
                                      recurse=p["recurse"] and wanted == "directory")
        changed = bool(commands)
        data = {**file_return(state), "path": path, "state": wanted if state.exists else "absent"}
        diff: list[dict[str, Any]] = []
        if changed:
            after = {"state": wanted}
            if p["mode"] is not None:
                after["mode"] = p["mode"] if isinstance(p["mode"], str) else mode_string(p["mode"])
            diff.append(state_diff(path, before, after))
        return FilePlan(path=path, wanted=wanted, changed=changed, commands=commands, data=data, diff=diff,
                        exists=state.exists, link_src=p["src"] if wanted in ("link", "hard") else None)

    def act(self, ctx: ModuleContext, plan: FilePlan) -> dict[str, Any]:
        """The commands and a fresh probe as one script; returns the result's data (the real state)."""
        path = plan.path
        script = ("set -e\n" + "\n".join(plan.commands) + "\n"
                  + probe_script(path, follow=plan.wanted not in ("link",)))
        done = ctx.run(script)
        if done.rc != 0:
            raise ModuleFailed(f"file: {path}: {done.stderr.strip()}", path=path)
        final = parse_probe(path, done.stdout)
        data: dict[str, Any] = file_return(final) if final.exists else {"path": path, "state": "absent"}
        if plan.wanted in ("link", "hard"):
            data["src"] = plan.link_src
        return data

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        observed = read_declared(self, ctx, params)
        plan = self.decide(params, observed)
        if plan.reads is not None:  # a hard link's source, read once the link is decided on
            observed = {**observed, plan.reads: ctx.probe(plan.reads)}
            plan = self.decide(params, observed)
        out = ModuleResult(changed=plan.changed, data=dict(plan.data),
                           diff=list(plan.diff) if ctx.diff else [])
        if not plan.changed or ctx.check_mode:
            if not plan.exists:
                out.data = {"path": plan.path, "state": "absent"}
            return out
        out.data = self.act(ctx, plan)
        return out

    @staticmethod
    def _default_state(p: dict[str, Any], state: FileState) -> str:
        """Ansible's default: directory with recurse, link with src, else what is there (or file)."""
        if p["recurse"]:
            return "directory"
        if p["src"]:
            return "link"
        return state.kind if state.exists and state.kind in ("directory", "link") else "file"

    @staticmethod
    def _summary(state: FileState) -> dict[str, Any]:
        if not state.exists:
            return {"state": "absent"}
        return {"state": state.kind if state.kind in ("directory", "link") else "file",
                "mode": mode_string(state.mode)}

    @staticmethod
    def _link_commands(p: Mapping[str, Any], state: FileState, kind: str,
                       observed: Mapping[str, CommandResult]) -> list[str] | str:
        """The link's commands; for a hard link whose source is not probed yet, that probe."""
        src, path = p["src"], p["path"]
        if not src:
            raise ModuleFailed(f"file: src is required for state={kind}")
        q_src, q_path = shlex.quote(src), shlex.quote(path)
        if kind == "link":
            if state.kind == "link" and state.link_target == src:
                return []
            if state.exists and state.kind == "directory":
                raise ModuleFailed(f"file: refusing to replace directory {path} with a link")
            if state.exists and state.kind != "link" and not p["force"]:
                raise ModuleFailed(f"file: refusing to convert from {state.kind} to symlink for {path} "
                                   "(use force: true)")
            return [f"ln -sfn -- {q_src} {q_path}"]
        source_path = src if src.startswith("/") else posixpath.join(posixpath.dirname(path), src)
        source_probe = probe_script(source_path)
        if source_probe not in observed:
            return source_probe
        source = parse_probe_result(source_path, observed[source_probe])
        if not source.exists:
            raise ModuleFailed(f"file: src {src} does not exist (needed for a hard link)")
        if state.exists and state.inode == source.inode and state.dev == source.dev:
            return []
        if state.exists and not p["force"] and state.kind != "file":
            raise ModuleFailed(f"file: refusing to convert from {state.kind} to hard link for {path}")
        return [f"ln -f -- {q_src} {q_path}"]


MODULE = FileModule()
