"""ansible.builtin.copy: put a controller file (``src``) or literal ``content`` on the host.

Idempotent by sha1 checksum (one probe round trip when nothing changes). ``src`` is found
with ``ctx.find_file(src, "files")`` (an absolute path as it is); ``remote_src: true`` copies a file that
is already on the host. A controller folder is copied file by file (``src/``: its contents;
``src``: the folder itself), a remote folder is not supported.

The module contract's steps are placefile's: ``decide`` (pure) takes the destination's probe
and the content's sha1 and size (of ``content``, or the digest the run took of ``src``) and
returns a ``Placement``; ``run`` conducts placefile's reads that depend on the decision
(``dest/NAME`` when dest is a directory, a remote source after the destination's probe, the
old bytes for a diff), deciding again after each, and ``act`` writes the bytes or fixes the
attributes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shlex
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, carry_out
from kprov.provision.modules.files.placefile import (
    Placement,
    PlaceOptions,
    act_placement,
    place_probe,
    placed_path,
    placement,
    plan_placement,
)

__all__ = ["MODULE", "CopyModule"]

SPEC = {
    "src": Arg(), "content": Arg("raw"), "dest": Arg(required=True),
    "backup": Arg("bool", default=False), "force": Arg("bool", default=True, aliases=("thirsty",)),
    "remote_src": Arg("bool", default=False), "validate": Arg(), "directory_mode": Arg("mode"),
    "follow": Arg("bool", default=False), "local_follow": Arg("bool", default=True),
    "checksum": Arg(), "decrypt": Arg("bool", default=True), **FILE_ATTRS,
}


def _content_bytes(content: Any) -> bytes:
    if not isinstance(content, str | bytes):
        content = json.dumps(content, indent=4)  # Ansible serializes non-string content
    return content if isinstance(content, bytes) else content.encode()


def _options(params: Mapping[str, Any]) -> PlaceOptions:
    return PlaceOptions(owner=params["owner"], group=params["group"], mode=params["mode"],
                        backup=params["backup"], force=params["force"], validate=params["validate"])


class CopyModule(ModuleBase):
    name = "copy"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        if (p["src"] is None) == (p["content"] is None):
            raise ModuleFailed("copy: give exactly one of 'src' or 'content'")
        if p["mode"] == "preserve" and p["content"] is not None:
            # ansible-core's copy action writes content to a mkstemp file (0600) and preserves that
            p["mode"] = "0600"
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        src_name = None
        if params["content"] is None and params["remote_src"]:
            src_name = posixpath.basename(params["src"].rstrip("/"))
        elif params["content"] is None:
            src = view.find_file(params["src"], "files")
            if src.is_dir():
                return []  # the task fails (run)
            src_name = src.name
        return [place_probe(placed_path(params["dest"], src_name))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult],
               digest: tuple[str, int] | None = None, src_name: str | None = None) -> Placement:
        """The placement for the destination's probe results and the content's (sha1, size):
        ``digest``, or those of ``content`` (a src's file is named ``src_name``, by default
        the last part of ``src``)."""
        if params["content"] is None:
            src_name = src_name or posixpath.basename(params["src"].rstrip("/"))
        elif digest is None:
            data = _content_bytes(params["content"])
            digest = hashlib.sha1(data).hexdigest(), len(data)
        return placement(self.name, placed_path(params["dest"], src_name), observed, src_name, digest,
                         _options(params))

    def act(self, ctx: ModuleContext, plan: Placement) -> dict[str, Any]:
        """Write the plan's bytes, or fix the attributes; returns the backup's name, if any."""
        return act_placement(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        p = self.params(args)
        src_name = None
        digest: tuple[str, int] | None = None
        data: bytes | Callable[[], bytes]
        if p["content"] is not None:
            data = _content_bytes(p["content"])
        elif p["remote_src"]:
            src_name = posixpath.basename(p["src"].rstrip("/"))
            data = self._remote_reader(ctx, p["src"])
        else:
            src = ctx.find_file(p["src"], "files")
            if src.is_dir():
                return self._copy_folder(ctx, p, src)
            data = self._local_reader(src)
            src_name = src.name
            if p["mode"] == "preserve":  # the controller file's mode, as ansible-core's action reads it
                p["mode"] = f"0{stat.S_IMODE(src.stat().st_mode):03o}"
            try:  # hashed once per run (ctx.file_digest); read only to be sent
                digest = ctx.file_digest(src)
            except OSError as exc:
                raise ModuleFailed(f"copy: cannot read src {src}: {exc}") from exc
        name = src_name

        def decide(observed: Mapping[str, CommandResult], digest: tuple[str, int] | None) -> Placement:
            return self.decide(p, observed, digest, name)

        result = carry_out(self, ctx, plan_placement(ctx, p["dest"], data, decide, src_name=src_name,
                                                     digest=digest))
        if p["src"] is not None:
            result.data["src"] = p["src"]
        return result

    def _copy_folder(self, ctx: ModuleContext, p: Mapping[str, Any], src: Path) -> ModuleResult:
        """A controller folder, as ansible-core copies one: ``src/`` puts what it holds into
        dest, ``src`` the folder itself (dest/NAME); folders are made as needed, each file
        placed (and decided) as a single file is."""
        into = p["dest"] if p["src"].endswith("/") else posixpath.join(p["dest"], src.name)
        files = sorted(path for path in src.rglob("*") if path.is_file())
        folders = sorted({posixpath.dirname(posixpath.join(into, path.relative_to(src).as_posix()))
                          for path in files} | {into})
        made = False
        result = ModuleResult(data={"dest": p["dest"], "src": p["src"]})
        for path in files:
            target = posixpath.join(into, path.relative_to(src).as_posix())
            one = {**p, "dest": target}
            digest = ctx.file_digest(path)

            def decide(observed: Mapping[str, CommandResult], digest: tuple[str, int] | None,
                       one: Mapping[str, Any] = one, name: str = path.name) -> Placement:
                return self.decide(one, observed, digest, name)

            plan = plan_placement(ctx, target, self._local_reader(path), decide, digest=digest)
            if plan.changed and not made and not ctx.check_mode:
                given = p["directory_mode"]
                mode = "" if given is None else f"-m {given:o} " if isinstance(given, int) else f"-m {given} "
                done = ctx.run(f"mkdir -p {mode}-- " + " ".join(shlex.quote(folder) for folder in folders))
                if done.rc != 0:
                    raise ModuleFailed(f"copy: cannot make {into}: {done.stderr.strip()}")
                made = True
            one_result = carry_out(self, ctx, plan)
            result.changed = result.changed or one_result.changed
            result.diff += one_result.diff
        return result

    # A remote source is read after the destination's probe (see placefile): a no-op costs
    # no read of it. A local one is hashed first (a missing file fails before the host is
    # touched) and read again only to be sent or diffed.
    @staticmethod
    def _local_reader(src: Path) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                return src.read_bytes()
            except OSError as exc:
                raise ModuleFailed(f"copy: cannot read src {src}: {exc}") from exc
        return read

    @staticmethod
    def _remote_reader(ctx: ModuleContext, path: str) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                return ctx.get(path)
            except OSError as exc:
                raise ModuleFailed(f"copy: remote src {path} unreadable: {exc}") from exc
        return read


MODULE = CopyModule()
