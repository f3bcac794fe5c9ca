"""The three-step module contract: ``probes`` (what it reads), ``decide`` (pure), ``act`` (writes).

A module written this way declares its reads as data — ``probes(params)`` returns shell
commands, each read-only — so the engine's read-ahead, its probe cache and check mode follow
from the contract: ``decide(params, observed)`` gets every probe's CommandResult by command
and returns a :class:`Plan` without touching anything, and ``act(ctx, plan)`` is the only step
that changes the host (skipped in check mode or when the plan changes nothing). Each such
module is tested as data: arguments and probe output in, plan out
(tests/unit/provision_modules/data/contract/).

:class:`ThreeStepModule` gives these modules the engine's ``run(ctx, args)``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult

__all__ = ["Plan", "ThreeStepModule"]


@dataclass
class Plan:
    """What a module decided: whether it changes anything, the commands/files that do it, and
    what the task reports (return values, diff, a failure)."""

    changed: bool = False
    commands: list[str] = field(default_factory=list)  # run in order by act (default act)
    files: dict[str, str] = field(default_factory=dict)  # path -> new content (default act)
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    failed: str = ""  # a failure message decided from the probes alone
    msg: str = ""


class ThreeStepModule:
    """Base: subclasses set ``name`` and ``spec`` and define ``probes`` and ``decide``
    (``act`` defaults to writing ``plan.files`` then running ``plan.commands``)."""

    name = ""
    spec: Mapping[str, Arg] = {}

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return parse_args(self.name, self.spec, args)

    def probes(self, params: Mapping[str, Any]) -> list[str]:
        raise NotImplementedError

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        raise NotImplementedError

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        for path, content in plan.files.items():
            # through the shell's redirection: an existing file keeps its owner and mode
            done = ctx.run(f"cat > {shlex.quote(path)}", stdin=content.encode())
            if done.rc != 0:
                raise ModuleFailed(f"{self.name}: cannot write {path}: {done.stderr.strip()}")
        for command in plan.commands:
            done = ctx.run(command)
            if done.rc != 0:
                raise ModuleFailed(f"{self.name}: `{command}` failed (rc={done.rc}): "
                                   f"{(done.stderr or done.stdout).strip()}", rc=done.rc)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        observed = {command: ctx.probe(command) for command in self.probes(params)}
        plan = self.decide(params, observed)
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed, data=plan.data)
        result = ModuleResult(changed=plan.changed, msg=plan.msg, data=plan.data,
                              diff=plan.diff if ctx.diff else [])
        if plan.changed and not ctx.check_mode:
            self.act(ctx, plan)
        return result

