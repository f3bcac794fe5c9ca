"""``ansible_delegated_vars``: the variables of a delegated task's target host.

As ansible-core's TaskExecutor does for each run of a task with ``delegate_to`` (each loop
item: ``delegate_to`` may name the item), before the task's ``when`` is evaluated
(VariableManager ``get_delegated_vars_and_hostname``, read in ansible-core 2.18):
``delegate_to`` is rendered in the task's variables (an undefined name is left as written);
the host it names is the inventory's host of that name, else the host whose address
(``ansible_host``) it is, else the implicit localhost for ``localhost``/``127.0.0.1``, else a
host with no variables; ``ansible_delegated_vars`` is then ``{name: that host's variables
for this task}``, the whole stack of a task's variables seen from the delegated host, except
``inventory_hostname``, which stays the delegating host's. ``omit`` adds nothing; an empty
name fails the task with ansible-core's words.

The delegated host's variables are a lazy view (VarsView): a template that never reads them
costs one rendering of ``delegate_to``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.context import HostState, PlayContext, RunContext
from kprov.provision.execute.variables import VarsView, task_scope
from kprov.provision.playbook.model import Task
from kprov.provision.templates import OMIT, VarScope

__all__ = ["DelegatedVars", "delegated_scope"]

_LOCAL_NAMES = ("localhost", "127.0.0.1")


def delegated_scope(run: RunContext, pctx: PlayContext, host: HostState, task: Task,
                    scope: VarScope) -> VarScope:
    """``scope`` with ``ansible_delegated_vars`` above it when the task is delegated (else
    ``scope`` itself)."""
    if not task.delegate_to:
        return scope
    try:
        name = scope.template(task.delegate_to, "delegate_to")
    except UndefinedVariableError:
        name = task.delegate_to  # ansible-core renders it with fail_on_undefined=False
    if name == OMIT:
        return scope
    if not name:
        raise ProvisionError(f'Empty hostname produced from delegate_to: "{task.delegate_to}"')
    return scope.child({"ansible_delegated_vars": DelegatedVars(run, pctx, host, task, str(name))})


class DelegatedVars(Mapping[str, Any]):
    """``{delegated host name: its variables for the task}`` (see the module docstring)."""

    def __init__(self, run: RunContext, pctx: PlayContext, host: HostState, task: Task,
                 name: str) -> None:
        self.__run, self.__pctx, self.__host, self.__task = run, pctx, host, task
        self.__name = name
        self.__view: VarsView | None = None

    def __getitem__(self, key: str) -> VarsView:
        if key != self.__name:
            raise KeyError(key)
        if self.__view is None:
            target = _delegated_host(self.__run, self.__name)
            scope = task_scope(self.__run, self.__pctx, target, self.__task,
                               {"inventory_hostname": self.__host.name})
            self.__view = VarsView(scope)
        return self.__view

    def __iter__(self) -> Iterator[str]:
        return iter((self.__name,))

    def __len__(self) -> int:
        return 1


def _delegated_host(run: RunContext, name: str) -> HostState:
    """The run's host of that name or address, else one made for the name (not a run host:
    its inventory variables, the implicit localhost's, or none)."""
    state = run.hosts.get(name)
    if state is not None:
        return state
    for other in run.hosts.values():
        if other.inventory_vars.get("ansible_host") == name:
            return other
    if name in run.inventory.hosts:
        return HostState(name=name, inventory_vars=run.inventory.host_vars(name, run.playbook_var_layers))
    if name in _LOCAL_NAMES:
        return HostState(name=name, inventory_vars={"ansible_connection": "local",
                                                    "ansible_python_interpreter": sys.executable})
    return HostState(name=name, inventory_vars={})
