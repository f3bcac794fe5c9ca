"""The include task's own run on a host (``include_tasks``/``include_role``), before anything loads.

As ansible-core's TaskExecutor runs an include: its loop items, each item's ``when`` and its
templated arguments (``omit`` ones dropped) are evaluated first, all of them, and the
strategy then loads one file (or role) per item that holds. An error there (an undefined
``when`` variable, a loop that does not render, an argument) is the include task's own
failure: a failed result that ``ignore_errors`` may ignore and ``register`` records. An
include that loads nothing registers a skipped result (``skip_reason``, or a loop's skipped
``results``). Loading the file is the host runner's (a load error fails the host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.results import TaskResult
from kprov.provision.execute.task.keywords import render_flags
from kprov.provision.execute.task.loops import item_layers, loop_items
from kprov.provision.execute.task.report import SKIPPED_BY_WHEN, task_result
from kprov.provision.playbook.model import Task
from kprov.provision.templates import OMIT

if TYPE_CHECKING:
    from kprov.provision.execute.task.runner import TaskRunner

__all__ = ["include_calls", "include_failed"]

Vars = dict[str, Any]


def include_calls(runner: TaskRunner, task: Task, extra: Vars | None) -> list[tuple[Vars, Vars]]:
    """(the item's variables, its templated arguments) for each loop item (or the one run)
    whose ``when`` holds; raises what evaluating them raises (see the module docstring)."""
    scope = runner.scope(task, extra)
    where = f"task field 'when' ({task.origin})"
    try:
        items = loop_items(task, scope) if task.loop is not None else [None]
    except UndefinedVariableError as loop_error:  # ansible-core's order (TaskRunner._execute)
        runner.raise_unless_skipped(task, scope, loop_error)
        items = []
    calls: list[tuple[Vars, Vars]] = []
    # an included loop's items see loop_var, index_var and ansible_loop as a task's do
    for layer in item_layers(task, scope, items) if task.loop is not None else [{}]:
        item_extra = dict(extra or {}) | layer
        item_scope = scope.child(item_extra) if item_extra else scope
        if all(item_scope.condition(c, where) for c in task.when):
            args = {k: item_scope.template(v, f"task field '{k}' ({task.origin})")
                    for k, v in task.args.items()}
            calls.append((item_extra, {k: v for k, v in args.items() if v != OMIT}))
    if not calls and task.register:
        runner.host.runtime_vars[task.register] = dict(SKIPPED_BY_WHEN) if not items or items == [None] else {
            "results": [dict(SKIPPED_BY_WHEN) for _ in items], "skipped": True, "changed": False,
            "msg": "All items skipped"}
    return calls


def include_failed(runner: TaskRunner, task: Task, err: ProvisionError, extra: Vars | None) -> TaskResult:
    """The include's failed result, with its ``ignore_errors`` rendered, registered under
    ``register``."""
    if isinstance(err, UndefinedVariableError):
        msg = str(UndefinedVariableError(err.variable, err.template, task.title))
    else:
        msg = f"task '{task.title}': {err}"
    registered = {"failed": True, "msg": msg, "changed": False}
    flags = render_flags(task, lambda: runner.scope(task, extra))
    if task.register:
        runner.host.registered.add(task.register)
        runner.host.runtime_vars[task.register] = registered
    return task_result(task, "failed", registered, 0.0, host=runner.host.name, play=runner.pctx.play.name,
                       title=runner.title(task, extra), flags=flags)
