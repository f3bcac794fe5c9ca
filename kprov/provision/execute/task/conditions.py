"""A task's attempt loop, as ansible-core's TaskExecutor runs it: how many attempts and how
long between them, and the conditions applied to each attempt's result.

``retries`` makes ``1 + retries`` attempts (``until`` alone: 4); with more than one,
``until`` (by default: the attempt did not fail) ends the loop, and each attempt's result
carries ``attempts``. ``changed_when`` then ``failed_when`` apply to every attempt before
``until`` reads it, so ``until: r is successful`` sees a ``failed_when`` failure.
"""

from __future__ import annotations

from typing import Any

from kprov.provision.errors import TemplateError
from kprov.provision.modules.base import ModuleResult
from kprov.provision.playbook.model import Task
from kprov.provision.templates import VarScope

__all__ = ["apply_conditions", "attempt_budget"]


def attempt_budget(task: Task, scope: VarScope) -> tuple[int, float]:
    """(attempts at most, seconds between them); a negative delay is 1 s."""
    retries = 1
    if task.retries is not None:
        retries += max(0, int(scope.template(task.retries, "retries")))
    elif task.until is not None:
        retries += 3
    delay = float(scope.template(task.delay, "delay")) if task.delay is not None else 5.0
    return retries, (1.0 if delay < 0 else delay)


def apply_conditions(task: Task, check_scope: VarScope, result: ModuleResult,
                     registered: dict[str, Any]) -> tuple[bool, bool]:
    """``changed_when`` then ``failed_when`` on one attempt's result (registered updated,
    as ansible-core updates the result ``until`` and the next conditions see)."""
    changed, failed = result.changed, result.failed
    if result.skipped:
        return changed, failed
    condition = "changed"
    try:
        if task.changed_when is not None:
            changed = all(check_scope.condition(c, "task field 'changed_when'")
                          for c in task.changed_when)
            registered["changed"] = changed
        condition = "failed"
        if task.failed_when is not None:
            failed = all(check_scope.condition(c, "task field 'failed_when'") for c in task.failed_when)
            registered["failed_when_result"] = failed  # ansible-core's key
            if failed and not registered.get("msg"):
                registered["msg"] = "failed_when condition met"
    except TemplateError as err:  # the module's own fields stay, as ansible-core keeps them
        failed = True
        registered[f"{condition}_when_result"] = str(err)
        registered.setdefault("msg", str(err))
    registered["failed"] = failed
    return changed, failed
