"""ansible.builtin.script: send a controller-side script to the host and run it there.

As ansible-core's ``script`` action: the first word of the free form (``cmd``), split as a
shell would (``'space path/test.sh'`` is one word), names a file found as ``copy`` finds its
``src`` (the role's ``files/``, then the playbook's); the rest are its arguments, kept as
written. ``creates`` (``removes``) skips the run when that path exists (does not): a plain
path, no glob, tested by the one declared probe. ``chdir`` must be absolute; ``executable``
runs the script through that program (a script without a shebang).

``decide`` (pure) takes the creates/removes test and returns the skip, check mode's answer
(with creates/removes a change; without, skipped: the script's effect cannot be known) or the
command line; ``act`` puts the script in a fresh private folder on the host, runs it there and
removes the folder, in one round trip after the upload. The result is the script's ``rc``,
``stdout`` and ``stderr`` as it printed them (not stripped, as ansible-core's low-level
execution returns them); a non-zero rc fails with ``non-zero return code``. It is never run
as an ``async`` job (ansible-core's action refuses that, in its words).
"""

from __future__ import annotations

import posixpath
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "ScriptModule", "ScriptPlan"]

SPEC = {
    "_raw_params": Arg("raw"), "cmd": Arg(), "creates": Arg(), "removes": Arg(), "chdir": Arg(),
    "executable": Arg(), "decrypt": Arg("bool", default=True), "free_form": Arg(),
}


def _exists(path: str) -> str:
    return f"if [ -e {shlex.quote(path)} ] || [ -L {shlex.quote(path)} ]; then echo yes; else echo no; fi"


@dataclass(frozen=True)
class ScriptPlan:
    """The decision: a finished answer (``done``: a skip, check mode's) or the script to run
    (``source`` on the controller, ``command`` its line with the script's word as written)."""

    done: ModuleResult | None = None
    source: str = ""
    command: str = ""
    word: str = ""
    chdir: str | None = None
    executable: str | None = None

    @property
    def changed(self) -> bool:
        return self.done.changed if self.done is not None else True

    @property
    def data(self) -> Mapping[str, Any]:
        return self.done.data if self.done is not None else {}

    @property
    def diff(self) -> list[dict[str, Any]]:
        return []


class ScriptModule(ModuleBase):
    name = "script"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        raw = p["_raw_params"] if p["_raw_params"] not in (None, "") else p["cmd"] or p["free_form"]
        if not raw or not str(raw).strip():
            raise ModuleFailed("one of the following is required: _raw_params, cmd")
        p["_raw_params"] = str(raw).strip()
        if p["chdir"] and not p["chdir"].startswith("/"):
            raise ModuleFailed(f"chdir {p['chdir']} must be an absolute path for a Unix-aware remote node")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [_exists(params[which]) for which in ("creates", "removes") if params[which]]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult],
               check_mode: bool = False) -> ScriptPlan:
        creates, removes = params["creates"], params["removes"]
        if creates and observed[_exists(creates)].stdout.strip() == "yes":
            return ScriptPlan(ModuleResult(skipped=True, msg=f"{creates} exists, matching creates option"))
        if removes and observed[_exists(removes)].stdout.strip() != "yes":
            return ScriptPlan(ModuleResult(skipped=True,
                                           msg=f"{removes} does not exist, matching removes option"))
        if check_mode:
            if creates or removes:
                return ScriptPlan(ModuleResult(changed=True))
            return ScriptPlan(ModuleResult(skipped=True, msg="Check mode is not supported for this task."))
        raw = params["_raw_params"]
        try:
            word = shlex.split(raw)[0]
        except ValueError as err:
            raise ModuleFailed(f"script: cannot split {raw!r}: {err}") from None
        return ScriptPlan(source=word, command=raw, word=word, chdir=params["chdir"],
                          executable=params["executable"])

    def act(self, ctx: ModuleContext, plan: ScriptPlan) -> ModuleResult:
        try:
            local = ctx.find_file(plan.source, "files")
            data = local.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ModuleFailed(f"Could not find or access '{plan.source}'") from None
        except OSError as err:
            raise ModuleFailed(f"Could not find or access '{plan.source}': {err}") from None
        folder = f"/tmp/.kprov-script-{secrets.token_hex(8)}"
        remote = posixpath.join(folder, local.name)
        made = ctx.run(f"mkdir -m 700 {folder}")
        if made.rc != 0:
            raise ModuleFailed(f"script: cannot make {folder} on the host: {made.stderr.strip()}")
        ctx.put(data, remote, mode=0o700)
        line = plan.command.replace(plan.word, remote, 1)
        if plan.executable:
            line = f"{plan.executable} {line}"
        if plan.chdir:
            line = f"cd -P {shlex.quote(plan.chdir)} && {line}"
        done = ctx.run(f"( {line}\n); rc=$?; rm -rf {folder}; exit $rc")
        data_out = {"rc": done.rc, "stdout": done.stdout, "stderr": done.stderr,
                    "stdout_lines": done.stdout.splitlines(), "stderr_lines": done.stderr.splitlines()}
        failed = done.rc != 0
        return ModuleResult(changed=True, failed=failed, msg="non-zero return code" if failed else "",
                            data=data_out)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        plan = self.decide(params, read_declared(self, ctx, params), ctx.check_mode)
        if plan.done is not None:
            return plan.done
        return self.act(ctx, plan)

    def detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        """An ``async`` task: refused, as ansible-core's script action refuses it."""
        return ModuleResult(failed=True, msg="This action (script) does not support async.")


MODULE = ScriptModule()
