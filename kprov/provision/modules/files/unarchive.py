"""ansible.builtin.unarchive: unpack a tar (gz/bz2/xz) or zip archive into ``dest``.

The archive is read on the controller (``src`` via ``ctx.find_file(src, "files")``).
Idempotence as in Ansible: each regular member's size and mtime are compared with the files
under ``dest`` in ONE command; only when something differs is the archive streamed to
``tar -x`` on the host's stdin (zip: uploaded, then ``unzip``). With ``creates`` that path
alone decides (present: skipped; missing: extracted), so a large archive is neither listed
on the controller nor stat'ed member by member on the host.
With ``remote_src`` (a tar archive already on the host) ``tar -d`` compares and ``tar -x``
extracts there. In the module contract's steps: ``decide`` (pure: the probe results and what
was read of the archive on the controller, an ``Archive``) gives a frozen ``UnarchivePlan``;
``act`` extracts (reading the archive's bytes to send them). With ``creates`` the archive is
listed only once that path turns out missing, so ``run`` may decide twice.
"""

from __future__ import annotations

import calendar
import shlex
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "Archive", "UnarchiveModule", "UnarchivePlan", "archive_members"]

SPEC = {
    "src": Arg(required=True),
    "dest": Arg(required=True),
    "remote_src": Arg("bool", default=False),
    "copy": Arg("bool", default=True),
    "creates": Arg(),
    "list_files": Arg("bool", default=False),
    "exclude": Arg("list", default=[]),
    "include": Arg("list", default=[]),
    "keep_newer": Arg("bool", default=False),
    "extra_opts": Arg("list", default=[]),
    "io_buffer_size": Arg("int"),
    "validate_certs": Arg("bool", default=True),
    "decrypt": Arg("bool", default=True),
    **FILE_ATTRS,
}


def archive_members(path: Path) -> tuple[str, list[tuple[str, int, int]]]:
    """Archive kind ("tar"/"zip") and its regular members as (name, size, mtime)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "zip", [
                (info.filename, info.file_size, calendar.timegm((*info.date_time, 0, 0, 0)))
                for info in archive.infolist()
                if not info.is_dir()
            ]
    try:
        with tarfile.open(path) as archive:
            return "tar", [(m.name, m.size, int(m.mtime)) for m in archive.getmembers() if m.isfile()]
    except tarfile.TarError as exc:
        raise ModuleFailed(f"unarchive: {path} is neither a tar nor a zip archive: {exc}") from exc


def _remote_script(src: str, dest: str, creates: str | None) -> str:
    """One command: dest must exist; creates short-circuits; ``tar -d`` compares the tree."""
    q_src, q_dest = shlex.quote(src), shlex.quote(dest)
    lines = [f"[ -d {q_dest} ] || {{ echo NODEST; exit 0; }}", f"[ -f {q_src} ] || {{ echo NOSRC; exit 0; }}"]
    if creates:
        lines.append(f"[ -e {shlex.quote(creates)} ] && {{ echo CREATES; exit 0; }}")
    lines.append(f"tar -d -f {q_src} -C {q_dest} >/dev/null 2>&1 && echo SAME; true")
    return "\n".join(lines)


def _compression_flag(payload: bytes) -> str:
    """tar cannot sniff compression on stdin: pick the flag from the magic bytes."""
    magics = ((b"\x1f\x8b", "-z"), (b"BZh", "-j"), (b"\xfd7zXZ\x00", "-J"), (b"\x28\xb5\x2f\xfd", "--zstd"))
    return next((flag for magic, flag in magics if payload.startswith(magic)), "")


def _dest_checks(p: Mapping[str, Any]) -> list[str]:
    """dest must exist; ``creates`` short-circuits (each prints its word and ends the probe)."""
    checks = [f"[ -d {shlex.quote(p['dest'])} ] || {{ echo NODEST; exit 0; }}"]
    if p["creates"]:
        checks.append(f"[ -e {shlex.quote(p['creates'])} ] && {{ echo CREATES; exit 0; }}")
    return checks


def _members_probe(dest: str, wanted: list[tuple[str, int, int]], checks: list[str]) -> str:
    """The checks, then each wanted member's size and mtime under ``dest``."""
    stat_args = " ".join(shlex.quote(f"{dest.rstrip('/')}/{name}") for name, _, _ in wanted)
    if stat_args:
        checks = [*checks, f"stat -c '%s %Y %n' -- {stat_args} 2>/dev/null"]
    return "; ".join([*checks, "true"])


def _wanted(members: list[tuple[str, int, int]], exclude: list[str]) -> list[tuple[str, int, int]]:
    excluded = set(exclude)
    return [(n, s, m) for n, s, m in members if n not in excluded and n.lstrip("./")]


@dataclass(frozen=True)
class Archive:
    """What was read of a controller archive: its kind ("tar"/"zip") and, once listed, its
    regular members as (name, size, mtime)."""

    kind: str
    members: list[tuple[str, int, int]] | None = None


@dataclass(frozen=True)
class UnarchivePlan:
    """The extraction decided (``changed``), a dest that is not there (``no_dest``), or the
    archive's members still to list (``needs_members``); what the task reports."""

    dest: str
    changed: bool = False
    msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    no_dest: bool = False
    needs_members: bool = False
    kind: str = "tar"
    excludes: list[str] = field(default_factory=list)
    extra_opts: list[str] = field(default_factory=list)
    chown: str = ""  # the extracted members' owner fix


class UnarchiveModule(ModuleBase):
    name = "unarchive"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """remote_src: one script (``tar -d``). Else with ``creates`` that path alone; without,
        the archive's members (listed on the controller) under dest."""
        if params["remote_src"] or not params["copy"]:
            return [_remote_script(params["src"], params["dest"], params["creates"])]
        src = view.find_file(params["src"], "files")
        if "://" in params["src"]:
            return []
        if params["creates"]:
            return ["; ".join([*_dest_checks(params), "true"])]
        _, members = archive_members(src)
        return [_members_probe(params["dest"], _wanted(members, params["exclude"]), _dest_checks(params))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult],
               archive: Archive | None = None) -> UnarchivePlan:
        """The extraction decided from the probe results and, for a controller archive, what
        was read of it (``archive``; its members listed only when needed: a plan with
        ``needs_members`` asks for them)."""
        p = params
        if p["remote_src"] or not p["copy"]:
            return self._decide_remote(p, observed)
        assert archive is not None, "a controller archive is read before deciding"
        dest = p["dest"]
        data: dict[str, Any] = {
            "dest": dest,
            "src": p["src"],
            "handler": "TgzArchive" if archive.kind == "tar" else "ZipArchive",
        }
        checks = _dest_checks(p)
        if p["creates"]:
            query = observed["; ".join([*checks, "true"])]
            if "NODEST" in query.stdout.splitlines():
                return UnarchivePlan(dest=dest, no_dest=True, data=data)
            if "CREATES" in query.stdout.splitlines():
                return UnarchivePlan(dest=dest, msg=f"skipped, since {p['creates']} exists", data=data)
        wanted: list[tuple[str, int, int]] = []
        if not p["creates"] or p["list_files"] or p["owner"] or p["group"]:
            if archive.members is None:
                return UnarchivePlan(dest=dest, needs_members=True)
            if p["list_files"]:
                data["files"] = [name for name, _, _ in archive.members]
            wanted = _wanted(archive.members, p["exclude"])
        if p["creates"]:
            differs = [name for name, _, _ in wanted] or [p["src"]]  # creates is missing: extract
        else:
            query = observed[_members_probe(dest, wanted, checks)]
            if "NODEST" in query.stdout.splitlines():
                return UnarchivePlan(dest=dest, no_dest=True, data=data)
            differs = _differing(query.stdout, dest, wanted, p["keep_newer"])
        if not differs:
            return UnarchivePlan(dest=dest, data=data)
        chown = ""
        if p["owner"] or p["group"]:
            spec = (p["owner"] or "") + (f":{p['group']}" if p["group"] else "")
            names = " ".join(shlex.quote(f"{dest.rstrip('/')}/{n}") for n, _, _ in wanted)
            chown = f"chown {shlex.quote(spec)} -- {names}"
        return UnarchivePlan(
            dest=dest, changed=True, data=data,
            diff=[{"before": {"path": dest}, "after": {"path": dest, "extracted": differs[:50]}}],
            kind=archive.kind, excludes=list(p["exclude"]), extra_opts=list(p["extra_opts"]), chown=chown)

    def act(self, ctx: ModuleContext, plan: UnarchivePlan, src: Path | None) -> None:
        """Extract: a controller archive (``src``) streamed to ``tar -x`` or uploaded for
        ``unzip``, then the owner fixed; a remote one with ``tar -x`` there."""
        data = plan.data
        q_dest = shlex.quote(plan.dest)
        excludes = " ".join(f"--exclude={shlex.quote(e)}" for e in plan.excludes)
        extra = " ".join(shlex.quote(o) for o in plan.extra_opts)
        if src is None:
            remote = data["src"]
            done = ctx.run(f"tar -x -f {shlex.quote(remote)} -C {q_dest} {excludes} {extra}")
            if done.rc != 0:
                raise ModuleFailed(f"unarchive: extracting {remote} failed: {done.stderr.strip()}", **data)
            return
        if plan.kind == "tar":
            payload = src.read_bytes()
            command = f"tar -x {_compression_flag(payload)} -f - -C {q_dest} {excludes} {extra}"
            done = ctx.run(command, stdin=payload)
        else:
            staged = f"/tmp/.kprov-unarchive-{src.name}"
            ctx.put(src.read_bytes(), staged, mode=0o600)
            zip_excludes = " ".join(shlex.quote(e) for e in plan.excludes)
            q_staged = shlex.quote(staged)
            exclude_part = f" -x {zip_excludes}" if zip_excludes else ""
            command = (
                f"unzip -o {extra} {q_staged} -d {q_dest}{exclude_part}; rc=$?; rm -f {q_staged}; exit $rc"
            )
            done = ctx.run(command)
        if done.rc != 0:
            raise ModuleFailed(f"unarchive: extracting {src.name} failed: {done.stderr.strip()}", **data)
        if plan.chown:
            fixed = ctx.run(plan.chown)
            if fixed.rc != 0:
                raise ModuleFailed(f"unarchive: setting owner failed: {fixed.stderr.strip()}", **data)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        """A controller archive is found and read on the controller: its kind first, its
        members when the decision needs them (with ``creates``, only once that path is
        missing). dest missing in check mode means the task making it ran in check mode too."""
        p = self.params(args)
        src: Path | None = None
        archive: Archive | None = None
        if not (p["remote_src"] or not p["copy"]):
            src = ctx.find_file(p["src"], "files")
            if "://" in p["src"]:
                raise ModuleFailed("unarchive: URL sources are not supported; get_url, then use a local "
                                   "archive")
            archive = Archive(kind="zip" if zipfile.is_zipfile(src) else "tar")
            if not p["creates"]:
                archive = Archive(*archive_members(src))
        observed = read_declared(self, ctx, p)
        plan = self.decide(p, observed, archive)
        if plan.needs_members:
            assert src is not None
            plan = self.decide(p, observed, Archive(*archive_members(src)))
        if plan.no_dest:
            if ctx.check_mode:
                # plan: the task that makes dest ran in check mode too; extracting is the change
                return ModuleResult(changed=True, msg=f"would extract into {plan.dest} (not there yet)")
            raise ModuleFailed(f"unarchive: dest '{plan.dest}' must be an existing dir", **plan.data)
        result = ModuleResult(changed=plan.changed, msg=plan.msg, data=dict(plan.data),
                              diff=list(plan.diff) if ctx.diff else [])
        if plan.changed and not ctx.check_mode:
            self.act(ctx, plan, src)
        return result

    @staticmethod
    def _decide_remote(p: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> UnarchivePlan:
        """remote_src: a tar archive already on the host; ``tar -d`` decides, ``tar -x`` acts."""
        src, dest = p["src"], p["dest"]
        data: dict[str, Any] = {"dest": dest, "src": src, "handler": "TgzArchive"}
        found = set(observed[_remote_script(src, dest, p["creates"])].stdout.split())
        if "NODEST" in found:
            raise ModuleFailed(f"unarchive: dest '{dest}' must be an existing dir", **data)
        if "NOSRC" in found:
            raise ModuleFailed(f"unarchive: src '{src}' does not exist on the host", **data)
        if "CREATES" in found:
            return UnarchivePlan(dest=dest, msg=f"skipped, since {p['creates']} exists", data=data)
        if "SAME" in found:
            return UnarchivePlan(dest=dest, data=data)
        return UnarchivePlan(dest=dest, changed=True, data=data,
                             diff=[{"before": {"path": dest}, "after": {"path": dest, "extracted": src}}],
                             excludes=list(p["exclude"]), extra_opts=list(p["extra_opts"]))


def _differing(stdout: str, dest: str, wanted: list[tuple[str, int, int]], keep_newer: bool) -> list[str]:
    """The members whose size or mtime differ from the files under ``dest`` (the probe's stat lines)."""
    seen = {}
    for line in stdout.splitlines():
        size, mtime, path = line.split(" ", 2)
        seen[path] = (int(size), int(mtime))
    return [
        name
        for name, size, mtime in wanted
        if seen.get(f"{dest.rstrip('/')}/{name}") != (size, mtime)
        and not (keep_newer and seen.get(f"{dest.rstrip('/')}/{name}", (0, 0))[1] > mtime)
    ]


MODULE = UnarchiveModule()
