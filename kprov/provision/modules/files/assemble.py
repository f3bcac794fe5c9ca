"""ansible.builtin.assemble: one file made of a folder's fragments, in name order.

As ansible-core's module and action: the regular files of ``src`` (on the host, or with
``remote_src: false`` a controller folder found as ``copy`` finds its src) are taken in
sorted name order, those whose name ``regexp`` does not search left out, and hidden ones
too with ``ignore_hidden``; a newline goes between two fragments when the first does not
end with one, and ``delimiter`` (its backslash escapes decoded, a newline added when it has
none) between every two. The result is placed at ``dest`` as ``copy`` places ``content``
(sha1-idempotent, owner/mode/backup/validate), reporting ``checksum`` and ``state``; the
diff, when shown, is registered as the one dict ansible-core registers.

``decide`` (pure) takes the one declared probe (the host folder's files, names and bytes
base64-encoded) or the controller folder's files and returns the assembled bytes or the
failure; ``run`` then places them with placefile's steps and ``act``.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, carry_out
from kprov.provision.modules.files.placefile import (
    Placement,
    PlaceOptions,
    act_placement,
    placement,
    plan_placement,
)

__all__ = ["MODULE", "AssembleModule", "Assembled", "assemble"]

SPEC = {
    "src": Arg(required=True), "dest": Arg(required=True), "delimiter": Arg(), "regexp": Arg(),
    "remote_src": Arg("bool", default=True), "ignore_hidden": Arg("bool", default=False),
    "decrypt": Arg("bool", default=True), "backup": Arg("bool", default=False), "validate": Arg(),
    "follow": Arg("bool", default=False), **FILE_ATTRS,
}


def _fragments_probe(src: str) -> str:
    """The host folder's regular files (symlinks to one included), in byte order of their
    names (Python's sorted order of UTF-8 names), as ``F:<name b64>:<content b64>`` lines."""
    where = shlex.quote(src)
    return (f"cd -- {where} 2>/dev/null || {{ [ -e {where} ] && echo NOTDIR || echo ABSENT; exit 0; }}"
            "\nLC_ALL=C ls -A | while IFS= read -r f; do [ -f \"$f\" ] || continue; "
            "printf 'F:%s:' \"$(printf %s \"$f\" | base64 -w0)\"; base64 -w0 < \"$f\"; echo; done")


def assemble(fragments: list[tuple[str, bytes]], *, delimiter: str | None = None, regexp: str | None = None,
             ignore_hidden: bool = False) -> bytes:
    """The file ansible-core's assemble writes from ``fragments`` ((name, bytes) of the
    folder's regular files)."""
    pattern = re.compile(regexp) if regexp else None
    parts: list[bytes] = []
    between = False
    newline_owed = False
    mark = codecs.escape_decode(delimiter.encode())[0] if delimiter else b""
    for name, content in sorted(fragments):
        if pattern is not None and not pattern.search(name):
            continue
        if ignore_hidden and name.startswith("."):
            continue
        if newline_owed:
            parts.append(b"\n")
        if between and mark:
            parts.append(mark if mark.endswith(b"\n") else mark + b"\n")
        parts.append(content)
        between = True
        newline_owed = not content.endswith(b"\n")
    return b"".join(parts)


@dataclass(frozen=True)
class Assembled:
    """The decision: the assembled bytes, or why there are none (``failed``)."""

    content: bytes | None = None
    failed: str = ""


class AssembleModule(ModuleBase):
    name = "assemble"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [_fragments_probe(params["src"])] if params["remote_src"] else []

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult],
               local: list[tuple[str, bytes]] | None = None) -> Assembled:
        src = params["src"]
        if local is None:
            listing = observed[_fragments_probe(src)].stdout
            if listing.startswith("ABSENT"):
                return Assembled(failed=f"Source ({src}) does not exist")
            if listing.startswith("NOTDIR"):
                return Assembled(failed=f"Source ({src}) is not a directory")
            local = []
            for line in listing.splitlines():
                if line.startswith("F:"):
                    name, _, content = line[2:].partition(":")
                    local.append((base64.b64decode(name).decode("utf-8", "surrogateescape"),
                                  base64.b64decode(content)))
        try:
            return Assembled(assemble(local, delimiter=params["delimiter"], regexp=params["regexp"],
                                      ignore_hidden=params["ignore_hidden"]))
        except re.error as err:
            return Assembled(failed=f"Invalid Regexp ({err}) in \"{params['regexp']}\"")

    def act(self, ctx: ModuleContext, plan: Placement) -> dict[str, Any]:
        return act_placement(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        p = self.params(args)
        local = None if p["remote_src"] else self._controller_fragments(ctx, p["src"])
        observed = {cmd: ctx.probe(cmd) for cmd in self.probes(p, ctx.view())}
        decided = self.decide(p, observed, local)
        if decided.failed or decided.content is None:
            return ModuleResult(failed=True, msg=decided.failed)
        data = decided.content
        options = PlaceOptions(owner=p["owner"], group=p["group"], mode=p["mode"], backup=p["backup"],
                               force=True, validate=p["validate"])

        def place(found: Mapping[str, CommandResult], digest: tuple[str, int] | None) -> Placement:
            return placement(self.name, p["dest"], found, None, digest or _digest(data), options)

        result = carry_out(self, ctx, plan_placement(ctx, p["dest"], data, place))
        if result.diff:  # ansible-core registers the assembled file's diff as one dict
            result.data["diff"] = result.diff[0]
        return result

    @staticmethod
    def _controller_fragments(ctx: ModuleContext, src: str) -> list[tuple[str, bytes]]:
        try:
            folder = ctx.find_file(src, "files")
        except FileNotFoundError:
            raise ModuleFailed(f"Could not find or access '{src}'") from None
        if not folder.is_dir():
            raise ModuleFailed(f"Source ({folder}) is not a directory")
        return [(path.name, path.read_bytes()) for path in sorted(Path(folder).iterdir()) if path.is_file()]


def _digest(data: bytes) -> tuple[str, int]:
    return hashlib.sha1(data).hexdigest(), len(data)


MODULE = AssembleModule()
