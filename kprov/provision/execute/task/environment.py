"""A task's ``environment:``: the entries of its play, roles, blocks, includes and its own,
templated and merged as Ansible's Task does (``_post_validate_environment``): outermost
first, so the innermost entry wins a name; an entry that is not a mapping is skipped with a
warning. The result is exported before every command the task's module sends
(``ModuleContext.environment``), so a name is pasted into the host's shell: one that no
shell variable can have fails the task instead (Ansible would pass it on).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from kprov.provision.errors import ProvisionError
from kprov.provision.playbook.model import Task
from kprov.provision.templates import VarScope

__all__ = ["task_environment"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def task_environment(task: Task, scope: VarScope, warn: Callable[[str], None]) -> dict[str, str]:
    """The variables to export for ``task`` (ProvisionError: a name that is not one)."""
    merged: dict[str, str] = {}
    for entry in task.environment:
        value = scope.template(entry, "environment")
        if value is None:
            continue
        if not isinstance(value, Mapping):
            # Ansible's warning shows the value; this one says what it was, not what it holds
            warn(f"could not parse environment value, skipping: a {type(value).__name__}, not a mapping")
            continue
        for name, setting in value.items():
            if not _NAME.fullmatch(str(name)):
                raise ProvisionError(f"environment: {name!r} is not a variable name "
                                     "(letters, digits and _, not starting with a digit)")
            merged[str(name)] = str(setting)  # as Ansible's env prefix: None is "None"
    return merged
