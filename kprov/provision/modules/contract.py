"""The module contract: declared ``probes`` (what it reads), then a decision, then its action.

Every module (base.Module) parses its arguments (``params``), declares its read-only probes
as data (``probes(params, view)``: shell commands, from the arguments and the task's
``TaskView`` alone), reads them, decides from their results and the arguments, and acts on the
difference. The engine reads every task's declared probes ahead, one batch per host
(execute.probe_plan), so a module's reads come from the probe cache.

:class:`ModuleBase` gives a module the defaults (arguments parsed by ``spec``, no probes).
:class:`ThreeStepModule` is the contract written out in steps: ``decide(params, observed)``
gets every probe's CommandResult by command and returns a :class:`Plan` without touching
anything, and ``act(ctx, plan)`` is the only step that changes the host (skipped in check
mode or when the plan changes nothing). A module with a plan of its own (a frozen dataclass
with ``changed``, ``data`` and ``diff``) conducts its ``run`` with :func:`decide_then_act`
(read the declared probes, decide, act), or, when it must read more after a first decision
(copy, template), decides itself and ends with :func:`carry_out`. Every module is tested as
data: arguments and probe output in, plan or result out
(tests/unit/provision_modules/data/contract/).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import Module, ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.commands.detached import Detached

__all__ = [
    "Acts", "DecidedPlan", "DecidesThenActs", "Detachable", "ModuleBase", "Plan", "ThreeStepModule",
    "carry_out", "decide_then_act", "read_declared",
]


@runtime_checkable
class Detachable(Module, Protocol):
    """A module that can run its work as a host-side job (``async``; modules.detached)."""

    def detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult | Detached: ...


class ModuleBase:
    """The contract's defaults: ``spec`` parses the arguments; no probes declared; the module
    judges its own changes."""

    name = ""
    spec: Mapping[str, Arg] = {}
    changes_judged_by_task = False

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return parse_args(self.name, self.spec, args)

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return []


def read_declared(module: Module, ctx: ModuleContext, params: Mapping[str, Any]) -> dict[str, CommandResult]:
    """The module's declared probes read through ``ctx`` (the probe cache first), by command."""
    return {command: ctx.probe(command) for command in module.probes(params, ctx.view())}


class DecidedPlan(Protocol):
    """What any module's plan tells the task: whether it changes the host, the return values,
    the diff."""

    @property
    def changed(self) -> bool: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def diff(self) -> Sequence[dict[str, Any]]: ...


PlanT = TypeVar("PlanT", bound=DecidedPlan)
PlanT_contra = TypeVar("PlanT_contra", bound=DecidedPlan, contravariant=True)


class Acts(Protocol[PlanT_contra]):
    """A module's act: carries a changing plan out; returns what it adds to the result (None:
    nothing)."""

    def act(self, ctx: ModuleContext, plan: PlanT_contra, /) -> Mapping[str, Any] | None: ...


class DecidesThenActs(Module, Protocol[PlanT]):
    """A module whose ``decide`` needs only its declared probes, and its ``act``."""

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult], /) -> PlanT: ...

    def act(self, ctx: ModuleContext, plan: PlanT, /) -> Mapping[str, Any] | None: ...


def carry_out(module: Acts[PlanT], ctx: ModuleContext, plan: PlanT) -> ModuleResult:
    """The result ``plan`` reports (its diff when the task shows diffs), after ``module.act``
    carried it out, unless it changes nothing or the task runs in check mode."""
    result = ModuleResult(changed=plan.changed, data=dict(plan.data),
                          diff=list(plan.diff) if ctx.diff else [])
    if plan.changed and not ctx.check_mode:
        result.data.update(module.act(ctx, plan) or {})
    return result


def decide_then_act(module: DecidesThenActs[PlanT], ctx: ModuleContext,
                    args: Mapping[str, Any]) -> ModuleResult:
    """A module's whole ``run``: its declared probes read (``read_declared``), its ``decide``,
    then ``carry_out``."""
    params = module.params(args)
    return carry_out(module, ctx, module.decide(params, read_declared(module, ctx, params)))


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


class ThreeStepModule(ModuleBase):
    """Base: subclasses set ``name`` and ``spec`` and define ``probes`` and ``decide``
    (``act`` defaults to writing ``plan.files`` then running ``plan.commands``)."""

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
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
        plan = self.decide(params, read_declared(self, ctx, params))
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed, data=plan.data)
        result = ModuleResult(changed=plan.changed, msg=plan.msg, data=plan.data,
                              diff=plan.diff if ctx.diff else [])
        if plan.changed and not ctx.check_mode:
            self.act(ctx, plan)
        return result
