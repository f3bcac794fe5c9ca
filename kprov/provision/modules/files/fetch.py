"""ansible.builtin.fetch: a host's file copied to the controller, as ansible-core's fetch
action does it.

``dest`` is ``<dest>/<inventory_hostname>/<src>`` unless ``flat`` (then ``dest`` itself, or
``dest/<basename of src>`` when it ends with ``/``); a relative ``dest`` is taken from the
playbook's folder. One probe reads the remote file's kind and sha1; ``decide`` compares it
with the controller file's sha1 (read by ``run`` before deciding, given to ``decide`` in
the parameters) and the file is transferred only when they differ, then checked against
the remote sha1 (``validate_checksum``). A missing remote file or a directory fails
with ansible-core's messages (only noted, not failed, with ``fail_on_missing: false``).
Check mode is skipped, as ansible-core skips it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "FetchModule", "FetchPlan"]

SPEC = {
    "src": Arg(required=True), "dest": Arg(required=True), "flat": Arg("bool", default=False),
    "fail_on_missing": Arg("bool", default=True), "validate_checksum": Arg("bool", default=True),
}
_MISSING = "the remote file does not exist, not transferring, ignored"
_DIRECTORY = "remote file is a directory, fetch cannot work on directories"


def fetch_probe(src: str) -> str:
    p = shlex.quote(src)
    return (f"if [ -d {p} ]; then echo DIR; elif [ -e {p} ]; then sha1sum -- {p} | cut -d' ' -f1; "
            "else echo MISSING; fi")


def local_path(params: Mapping[str, Any], host: str, base: str) -> str:
    """Where the file lands on the controller (ansible-core's fetch rules)."""
    src, dest = str(params["src"]), str(params["dest"])
    if params["flat"]:
        if os.path.isdir(dest) and not dest.endswith("/"):
            raise ModuleFailed("dest is an existing directory, use a trailing slash if you want to fetch "
                               "src into that directory")
        if dest.endswith("/"):
            dest = os.path.join(dest, os.path.basename(src))
        return os.path.normpath(dest if dest.startswith("/") else os.path.join(base, dest))
    root = dest if dest.startswith("/") else os.path.join(base, dest)
    return os.path.normpath(f"{root}/{host}/{src}")


def _sha1(path: str) -> str | None:
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class FetchPlan:
    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    failed: str = ""
    src: str = ""
    dest: str = ""
    remote_checksum: str = ""


class FetchModule(ModuleBase):
    name = "fetch"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [fetch_probe(str(params["src"]))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> FetchPlan:
        """``params`` may carry ``_dest`` (the controller path) and ``_local_checksum`` (its
        sha1, None when absent), which ``run`` adds; without them the file is fetched."""
        src = str(params["src"])
        (result,) = observed.values()
        answer = result.stdout.strip()
        if result.rc != 0:
            return FetchPlan(failed=f"unable to read {src}: {result.stderr.strip()}", src=src)
        if answer in ("MISSING", "DIR"):
            msg = _MISSING if answer == "MISSING" else _DIRECTORY
            if not params["fail_on_missing"]:
                suffix = ", not transferring, ignored" if answer == "DIR" else ""
                return FetchPlan(data={"file": src, "msg": msg + suffix}, src=src)
            return FetchPlan(failed=msg, data={"file": src}, src=src)
        dest = str(params.get("_dest") or params["dest"])
        local = params.get("_local_checksum")
        if local == answer:
            return FetchPlan(data={"file": src, "dest": dest, "checksum": local}, src=src, dest=dest)
        return FetchPlan(changed=True, data={"dest": dest, "remote_md5sum": None, "remote_checksum": answer},
                         src=src, dest=dest, remote_checksum=answer)

    def act(self, ctx: ModuleContext, plan: FetchPlan, validate: bool = True) -> dict[str, Any]:
        data = ctx.get(plan.src)
        os.makedirs(os.path.dirname(plan.dest) or ".", exist_ok=True)
        try:
            Path(plan.dest).write_bytes(data)
        except OSError as err:
            raise ModuleFailed(f"Failed to fetch the file: {err}") from None
        checksum = hashlib.sha1(data).hexdigest()
        out = {"checksum": checksum, "md5sum": hashlib.md5(data, usedforsecurity=False).hexdigest()}
        if validate and checksum != plan.remote_checksum:
            raise ModuleFailed("checksum mismatch", file=plan.src, dest=plan.dest, remote_md5sum=None,
                               remote_checksum=plan.remote_checksum, **out)
        return out

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        if ctx.check_mode:
            return ModuleResult(skipped=True, msg="check mode not (yet) supported for this module")
        host = str(ctx.task_vars.get("inventory_hostname", "localhost"))
        base = str(ctx.task_vars.get("playbook_dir", os.getcwd()))
        dest = local_path(params, host, base)
        plan = self.decide({**params, "_dest": dest, "_local_checksum": _sha1(dest)},
                           read_declared(self, ctx, params))
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed, data=dict(plan.data))
        result = ModuleResult(changed=plan.changed, data=dict(plan.data))
        if not plan.changed:
            if plan.data.get("checksum") is not None:
                local = Path(dest).read_bytes()
                result.data["md5sum"] = hashlib.md5(local, usedforsecurity=False).hexdigest()
            return result
        result.data.update(self.act(ctx, plan, bool(params["validate_checksum"])))
        return result


MODULE = FetchModule()
