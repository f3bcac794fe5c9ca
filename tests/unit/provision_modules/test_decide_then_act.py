"""contract.decide_then_act and carry_out, the one conductor of a module's run (sysctl, user,
get_url, modprobe; copy and template end with carry_out): the declared probes read, decide,
then act only when the plan changes something and the task is not in check mode; the act's
values join the result, the plan's diff shows only when the task shows diffs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.fake import FakeConnector
from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, decide_then_act


@dataclass(frozen=True)
class _Plan:
    changed: bool
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)


class _Module(ModuleBase):
    """Changed when the probe says ``old``; its act runs ``fix`` and returns ``acted``."""

    name = "fake"

    def __init__(self, acted: dict[str, Any] | None) -> None:
        self.acted = acted
        self.decided: list[Mapping[str, CommandResult]] = []

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return ["cat /state"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> _Plan:
        self.decided.append(observed)
        changed = observed["cat /state"].stdout == "old"
        return _Plan(changed=changed, data={"state": "new"}, diff=[{"before": "old"}] if changed else [])

    def act(self, ctx: ModuleContext, plan: _Plan) -> dict[str, Any] | None:
        ctx.run("fix")
        return self.acted

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return decide_then_act(self, ctx, args)


def _context(state: str, *, check_mode: bool = False,
             diff: bool = False) -> tuple[ModuleContext, FakeConnector]:
    connector = FakeConnector()
    connector.on("cat /state", stdout=state)
    connector.on(".", rc=0)
    return ModuleContext(connector=connector, check_mode=check_mode, diff=diff), connector


@pytest.mark.parametrize(("acted", "data"), [
    ({"backup_file": "/state.1"}, {"state": "new", "backup_file": "/state.1"}),
    (None, {"state": "new"}),
])
def test_a_changing_plan_is_acted_on_and_its_values_join_the_result(acted: dict[str, Any] | None,
                                                                     data: dict[str, Any]) -> None:
    module = _Module(acted)
    ctx, connector = _context("old", diff=True)
    result = module.run(ctx, {})
    assert connector.command_lines == ["cat /state", "fix"]
    assert [list(observed) for observed in module.decided] == [["cat /state"]]
    assert (result.changed, result.data, result.diff) == (True, data, [{"before": "old"}])


def test_check_mode_and_an_unchanged_plan_do_not_act_and_the_diff_shows_only_when_asked() -> None:
    for state, check_mode in (("old", True), ("new", False)):
        ctx, connector = _context(state, check_mode=check_mode)
        result = _Module({"x": 1}).run(ctx, {})
        assert connector.command_lines == ["cat /state"]
        assert (result.changed, result.data, result.diff) == (state == "old", {"state": "new"}, [])
