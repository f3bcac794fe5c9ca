"""Boolean task keywords a host's run renders: ``ignore_errors``, ``ignore_unreachable`` and
``no_log``, from one table.

ansible-core keeps such a keyword as written when it loads a task and post-validates it per
host when the task runs: the template over that host's variables, then a strict boolean. So
``no_log: "{{ hide }}"`` hides one host's output and shows another's. kprov renders every
keyword of ``BOOL_KEYWORDS`` once per host and task, before the task's module runs (a value
that is not a template is only converted; it never builds the host's scope).

A value that cannot be rendered (an undefined variable) or is not a boolean fails the task
unless its ``when`` is false, as ansible-core 2.19 does ("Error processing keyword 'no_log':
..."), and the keyword then acts as its ``on_error`` value: true for both. ansible-core masks
the output of a task whose ``no_log`` it cannot validate (with a warning), and keeps an
``ignore_errors`` it cannot validate as the written text, which is truthy, so that failure is
ignored. The message names the keyword and the template as written, never a rendered value
(a ``no_log`` template may well read a secret).

Limit: ansible-core renders the keywords again for each loop item (``no_log: "{{ item.hide
}}"`` hides some items). kprov renders them for the task; a value that needs the loop's item
(undefined for the task) takes ``in_loop``: ``no_log`` masks the whole result (never show what
may be secret), ``ignore_errors`` ignores nothing (the failure stands).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.results import Status
from kprov.provision.playbook.model import Task
from kprov.provision.templates import VarScope, is_template

__all__ = ["BOOL_KEYWORDS", "BoolKeyword", "TaskFlags", "keyword_failure", "render_flags", "strict_bool"]

# ansible.module_utils.parsing.convert_bool's words (any case, surrounding blanks ignored)
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})


@dataclass(frozen=True)
class BoolKeyword:
    """One keyword: its name (a ``Task`` field), the value it acts as when it cannot be
    validated (the task fails), and the value for a loop whose item it needs."""

    name: str
    on_error: bool
    in_loop: bool


BOOL_KEYWORDS: Mapping[str, BoolKeyword] = MappingProxyType({
    "ignore_errors": BoolKeyword("ignore_errors", on_error=True, in_loop=False),
    "no_log": BoolKeyword("no_log", on_error=True, in_loop=True),
    # as ignore_errors (its unvalidated text is truthy too; not measured against ansible-core)
    "ignore_unreachable": BoolKeyword("ignore_unreachable", on_error=True, in_loop=False),
})


def strict_bool(value: Any) -> bool:
    """Ansible's strict boolean (None, as an unset keyword, is false); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("not a boolean (true/false, yes/no, on/off, 1/0)")


@dataclass(frozen=True)
class TaskFlags:
    """The keywords as one host's run rendered them; ``error``: why the task fails instead
    of running (a keyword it could not validate)."""

    values: Mapping[str, bool] = field(default_factory=dict)
    error: str | None = None

    @property
    def ignore_errors(self) -> bool:
        return self.values.get("ignore_errors", False)

    @property
    def no_log(self) -> bool:
        return self.values.get("no_log", False)

    @property
    def ignore_unreachable(self) -> bool:
        return self.values.get("ignore_unreachable", False)


def render_flags(task: Task, scope_of: Callable[[], VarScope], *, in_loop: bool | None = None) -> TaskFlags:
    """Every keyword of ``BOOL_KEYWORDS`` for one host; ``scope_of`` is called only when a
    value is a template. ``in_loop``: whether a value needing the loop's item takes its loop
    value (default: when the task has a loop; an item's own scope renders it)."""
    looped = task.loop is not None if in_loop is None else in_loop
    values: dict[str, bool] = {}
    errors: list[str] = []
    for spec in BOOL_KEYWORDS.values():
        written = getattr(task, spec.name)
        try:
            value = written
            if isinstance(value, str) and is_template(value):
                value = scope_of().template(value, f"task field '{spec.name}' ({task.origin})")
            values[spec.name] = strict_bool(value)
        except UndefinedVariableError as err:
            if looped:
                values[spec.name] = spec.in_loop
                continue
            values[spec.name] = spec.on_error
            errors.append(f"Error processing keyword '{spec.name}': undefined variable '{err.variable}' "
                          f"in {written!r}")
        except (ProvisionError, ValueError, TypeError):
            values[spec.name] = spec.on_error
            errors.append(f"Error processing keyword '{spec.name}': {written!r} is not a boolean "
                          "(true/false, yes/no, on/off, 1/0)")
    return TaskFlags(MappingProxyType(values), "; ".join(errors) or None)


def keyword_failure(task: Task, error: str, when_holds: Callable[[], bool],
                    skipped: Mapping[str, Any]) -> tuple[Status, dict[str, Any]]:
    """The outcome of a task whose keyword the host's run could not validate: failed without
    running, unless its ``when`` is false (ansible-core evaluates it first; ``skipped`` is the
    result of a false ``when``). A looped task fails as a whole."""
    if task.loop is None and not when_holds():
        return "skipped", dict(skipped)
    return "failed", {"failed": True, "msg": f"task '{task.title}': {error}", "changed": False}
